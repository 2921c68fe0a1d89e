"""Site data: backups of /var/www and restore in place (docs/contract.md §6.3).

    archive.py   the tar stream through zstd to a file and back, in bounded steps
    members.py   what a restore may extract, and each member rewritten as the site user's
    catalog.py   where backups live on disk, their records, pruning, the per-site lock
    service.py   Backups: take (background, before a delete, scheduled), list, download, upload
    restore.py   Restorer: staging, the crash-safe swap, recovery at start
    policy.py    the retention policy (last N, daily, weekly, monthly) as restic's forget
    retention.py the targets the policy is applied to (the local catalog, the restic repository)
    schedule.py  the daily schedule (a moment per site, a cap, one catch-up), the retention job
    freshness.py each site's last good backup, for the listing and /metrics
    restic.py    restic started safely (no secret in argv, its cache, a lock per repository)
    targets.py   the restic target: take, write out as a zstd tar, forget
    hostdir.py   a local volume's directory on this host, read as a backup's tar (no link followed)
    hostrestore.py  a restore's staging, extraction and swap on that directory; the old
                 tree set aside and removed after the answer
    background.py   small files of a host restore written by threads, in the archive's order

With a local engine a backup reads, and a restore writes, the volume's directory on this
host (several times faster than the engine's archive stream); with a remote one, all goes
through the engine's archive API. Either works for a stopped site; memory stays at a chunk
or two whatever a site's size or an archive's compression ratio.
"""

from .catalog import BACKUP_ID_PATTERN, Catalog, Record, check_backup_id
from .restore import Restorer
from .service import Backups, Download, final_backup

__all__ = [
    "BACKUP_ID_PATTERN",
    "Backups",
    "Catalog",
    "Download",
    "Record",
    "Restorer",
    "check_backup_id",
    "final_backup",
]
