"""The BLE gateway: the phone app's Bluetooth and sync half (DESIGN sections 5 and 12, issue 6).

It scans for health devices with bleak (BlueZ in production, the Bumble simulator when
``--radio sim://...`` injects that backend), collects their stored records, decodes them with
``shared.ble``, keeps every record in an on-disk SQLite queue first, and uploads from that queue to
sync with deterministic client ids. Layout, following the house style:

* pure, no bleak and no I/O: :mod:`~services.gateway.profiles` (which GATT profile a device speaks),
  :mod:`~services.gateway.records` (frame -> reading, client ids, sendable or not),
  :mod:`~services.gateway.retry` (retry policy as data);
* BLE: :mod:`~services.gateway.radio` (backend choice), :mod:`~services.gateway.connect`
  (bleak-retry-connector), :mod:`~services.gateway.session` (one device visit, an ``async with``
  object with an injectable connector; :mod:`~services.gateway.racp` and
  :mod:`~services.gateway.transfer` hold its pure parts), :mod:`~services.gateway.collector`
  (scan and schedule visits);
* storage and upload: :mod:`~services.gateway.queue` (SQLite, WAL), :mod:`~services.gateway.api`
  (auth + sync client), :mod:`~services.gateway.uploader`;
* running it: :mod:`~services.gateway.config`, :mod:`~services.gateway.metrics`,
  :mod:`~services.gateway.progress`, :mod:`~services.gateway.app`, :mod:`~services.gateway.cli`.
"""
