"""Audit: check a force's survey answers against the inventory, on tamper-evident evidence.

- :mod:`camsweep.audit.answers`: the answer file (YAML) modelled on the Biometrics and
  Surveillance Camera Commissioner's 2022 police survey; loader errors name file, line and field.
- :mod:`camsweep.audit.chain`: hash chains over observations (per scan) and scans (per site),
  sealed when a scan finishes and re-checked by ``camsweep audit verify-chain``.
- :mod:`camsweep.audit.verify`: every answer judged consistent, contradicted or unverifiable.
- :mod:`camsweep.audit.draft`: answers pre-filled from the inventory.
- :mod:`camsweep.audit.render`: HTML (inline SVG charts), Markdown and JSON reports.
"""
