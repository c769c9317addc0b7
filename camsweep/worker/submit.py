"""Create a scan in the central inventory and enqueue its chunks on the site's queue."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from celery import Celery
from kombu.exceptions import KombuError, OperationalError

from camsweep import __version__
from camsweep.api import ScanRequest
from camsweep.worker import site_queue
from camsweep.worker.app import SCAN_CHUNK_TASK
from camsweep.worker.chunks import DEFAULT_CHUNK_SIZE, plan_chunks
from camsweep.worker.store import ChunkStore
from db.repository import Inventory
from fingerprints.errors import StorageError
from scanner.targets import parse_targets

#: Reaching the broker: a few quick retries, then report it unreachable.
PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 1, "interval_max": 3}


@dataclass(frozen=True, slots=True)
class SubmittedScan:
    scan_id: int
    site: str
    queue: str
    addresses: int
    chunks: int


def submit_scan(
    request: ScanRequest, inventory: Inventory, celery_app: Celery, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> SubmittedScan:
    """Scope-check, create the scan, plan its chunks and publish them; nothing is scanned here.

    The scan record is the one all chunks merge into: each chunk records into
    ``scan_id`` and the last to finish closes it.
    """
    specs = parse_targets(request.targets)
    request.scope.check(specs)  # before anything is stored or sent
    chunks = list(plan_chunks(specs, request.scope, chunk_size))
    total = sum(c.addresses for c in chunks)
    scan_id = inventory.begin_scan(
        [s.text for s in specs],
        site=request.site,
        operator=request.operator,
        total=total,
        tool_version=__version__,
        distributed=True,
    )
    store = ChunkStore(inventory)
    store.create(scan_id, chunks)
    queue = site_queue(request.site)
    # A whole-scan deadline means nothing to one chunk among many: chunks run to the end.
    limits = asdict(replace(request.limits, deadline_s=None))
    exclude = [str(n) for n in request.scope.exclude]
    try:
        for c in chunks:
            celery_app.send_task(
                SCAN_CHUNK_TASK,
                kwargs={
                    "scan_id": scan_id,
                    "idx": c.idx,
                    "first": str(c.first),
                    "last": str(c.last),
                    "addresses": c.addresses,
                    "ports": list(request.ports),
                    "limits": limits,
                    "exclude": exclude,
                    # The site's workers resolve its credentials locally; nothing secret is sent.
                    "site": request.site,
                },
                queue=queue,
                retry=True,
                retry_policy=PUBLISH_RETRY_POLICY,
            )
    except (OperationalError, KombuError, OSError) as exc:
        inventory.finish_scan(scan_id, "failed")
        raise StorageError(f"cannot publish scan {scan_id} to broker queue {queue}: {exc}") from exc
    if not chunks:  # every address excluded: nothing to wait for
        store.finish_if_complete(scan_id)
    inventory.log_action(
        "worker.submit", actor=request.operator, scan_id=scan_id, site=request.site, chunks=len(chunks)
    )
    return SubmittedScan(scan_id, request.site, queue, total, len(chunks))
