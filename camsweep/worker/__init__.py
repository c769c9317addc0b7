"""Scale-out: per-site scan workers on Celery with one central inventory.

ARP and multicast discovery stop at routers, so a large deployment runs a
worker inside each site, consuming its site's queue (``camsweep.site.<name>``),
and records into one central database (PostgreSQL).  A scan is split into
address-range *chunks*; every chunk is recorded in one transaction together
with the row that marks it done, so a chunk redelivered after a worker died
(late acknowledgement) is never recorded twice.

Modules: ``chunks`` (planning ranges without materialising targets), ``models``
(the chunk table), ``store`` (chunk bookkeeping and the one-transaction
recording), ``app`` (the Celery app and its settings), ``tasks`` (the chunk
and scheduled-scan tasks), ``submit`` (create a scan and enqueue its chunks),
``schedule`` (Celery beat schedule from configured jobs).
"""

SITE_QUEUE_PREFIX = "camsweep.site."


def site_queue(site: str) -> str:
    """The queue a site's workers consume: ``camsweep.site.<name>``."""
    return f"{SITE_QUEUE_PREFIX}{site}"
