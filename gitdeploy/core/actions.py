"""What a sync does to each named thing it manages: a service or a job."""
from __future__ import annotations

from enum import Enum


class ServiceAction(str, Enum):
    CREATE = "create"        # declared, nothing runs yet
    UPDATE = "update"        # the template changed: replicas are replaced
    SCALE = "scale"          # only the replica count differs
    REPAIR = "repair"        # same template and count, but a replica is stopped, duplicated or misplaced
    RUN = "run"              # a job runs (its template is new, or its last run did not finish)
    REMOVE = "remove"        # no longer declared: pruned
    ORPHANED = "orphaned"    # no longer declared, kept because pruning is off
    HELD = "held"            # this revision failed before (rolled back, or a job's run failed): not retried
    UNCHANGED = "unchanged"
