"""Names of the labels gitdeploy puts on every object it owns, and object names.

Ownership is decided by labels only, never by parsing names: an object without
`io.gitdeploy.project` is invisible to every gitdeploy command.
"""
from __future__ import annotations

PREFIX = "io.gitdeploy."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
SLOT = PREFIX + "slot"                 # replica number, 1..replicas
TEMPLATE_HASH = PREFIX + "template-hash"  # hash of the canonical replica template
TEMPLATE = PREFIX + "template"         # the canonical template itself, JSON (for field-level diffs)
COMMIT = PREFIX + "commit"             # the commit the replica was created from
MANAGED_BY = PREFIX + "managed-by"
KIND = PREFIX + "kind"                 # on history records: "history"
REVISION = PREFIX + "revision"
EVENT = PREFIX + "event"
AT = PREFIX + "at"
IMAGE = PREFIX + "image"
MESSAGE = PREFIX + "message"
GIT_HASH = PREFIX + "git-hash"
# The lock carries LOCK=<project>, deliberately not PROJECT: it is no replica.
LOCK = PREFIX + "lock"
LOCK_ID = PREFIX + "lock-id"
HOLDER_HOST = PREFIX + "holder-host"
HOLDER_PID = PREFIX + "holder-pid"
HOLDER_COMMAND = PREFIX + "holder-command"


def network_name(project: str) -> str:
    return f"gitdeploy_{project}"


def replica_name(project: str, service: str, slot: int, template_hash: str) -> str:
    # The hash is part of the name so that an old and a new revision of the same
    # slot can coexist during a start-first rolling update.
    return f"{project}-{service}-{slot}-{template_hash[:7]}"


def lock_name(project: str) -> str:
    return f"gitdeploy-lock-{project}"


def history_record_name(project: str, service: str, revision: int, event: str, millis: int) -> str:
    return f"gitdeploy-{project}-{service}-r{revision}-{event}-{millis}"
