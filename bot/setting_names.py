"""The environment names stoplive reads, and the ``STOPLIVE_*`` names it does not: a misspelt
setting must refuse start-up, never be ignored (an ignored limit widens access)."""

from __future__ import annotations

import contextlib
import difflib
import os
import re

from dotenv import dotenv_values
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

OWN_PREFIX = "STOPLIVE_"


def known_names(settings: type[BaseSettings]) -> frozenset[str]:
    """Every environment name the settings read (upper-case): each field's, with the model's
    prefix, and each of its alias choices. Derived from the model, so a new field is known
    the moment it is declared."""
    prefix = str(settings.model_config.get("env_prefix") or "").upper()
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        names.add(prefix + name.upper())
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(choice.upper() for choice in choices if isinstance(choice, str))
    return frozenset(names)


# The names of Kubernetes' service-link variables (docker links' shape): SVC_SERVICE_HOST,
# SVC_SERVICE_PORT[_NAME], SVC_PORT, SVC_PORT_6379_TCP[_PROTO|_PORT|_ADDR].
_SERVICE_LINK = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT|PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)"
)


def unknown_names(env_file: object, known: frozenset[str]) -> list[str]:
    """A problem line for each ``STOPLIVE_*`` name set in the environment or ``env_file`` that
    is not in ``known`` (what the settings read), with the closest known name: a misspelt name is otherwise ignored, and
    an ignored ``STOPLIVE_ALLOWED_CHANNEL`` lets ``/stoplive`` work in every channel."""
    given = {name.upper() for name in os.environ}
    if "KUBERNETES_SERVICE_HOST" in given:
        # Kubernetes gives every pod variables named after each Service of its namespace
        # (service links: a Service "stoplive-redis" sets STOPLIVE_REDIS_SERVICE_HOST,
        # STOPLIVE_REDIS_PORT_6379_TCP, ...). Only there, and only those shapes, are not typos.
        given = {name for name in given if not _SERVICE_LINK.fullmatch(name)}
    if isinstance(env_file, str | os.PathLike):
        with contextlib.suppress(OSError, UnicodeDecodeError):  # Settings names those itself
            given.update(name.upper() for name in dotenv_values(env_file))
    ours = sorted(name for name in known if name.startswith(OWN_PREFIX))
    problems = []
    for name in sorted(n for n in given if n.startswith(OWN_PREFIX) and n not in known):
        # compared without the prefix they all share, which would make anything look close
        tails = [known_name.removeprefix(OWN_PREFIX) for known_name in ours]
        close = difflib.get_close_matches(name.removeprefix(OWN_PREFIX), tails, n=1)
        hint = f"did you mean {OWN_PREFIX}{close[0]}?" if close else f"known: {', '.join(ours)}"
        problems.append(f"{name}: not a stoplive setting ({hint}); remove or rename it")
    return problems
