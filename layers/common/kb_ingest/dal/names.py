"""Name claims: one item per taken name in a scope, checked and written inside transactions.

A claim's key is derived from the name, never the name itself, so every name the contract
accepts fits DynamoDB's key limits (1,024 bytes for a sort key, no empty strings), whatever
its length, script or emptiness:

    sha256(lowercased base + NUL + extension)  then  `=`         for `report.pdf`
                                                      `(3)`       for `report(3).pdf`

Names are unique case-insensitively; the hash keeps a name's family (`report`, `report(1)`,
`report(7)` with the same extension) under one key prefix, so the lowest free `(n)` suffix is
found with one Query over that prefix instead of one lookup per candidate. The claim also
stores the name as it was written, for people reading the table.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist

from kb_ingest.dal.models import NameClaimModel
from kb_ingest.domain.naming import first_free_name, lowest_free_name, parse_name

# A counter of more digits is keyed as part of the base: the key stays short, and the name
# is still unique (it simply has a family of its own).
_MAX_COUNTER_DIGITS = 18
_FAMILY_LENGTH = 64


def dataset_name_scope(tenant_id: str) -> str:
    return f"datasets#{tenant_id}"


def document_name_scope(dataset_id: str) -> str:
    return f"documents#{dataset_id}"


def _family_and_digits(name: str) -> tuple[str, str | None]:
    parts = parse_name(name.lower())
    base, digits = parts.base, parts.digits
    if digits is not None and len(digits) > _MAX_COUNTER_DIGITS:
        base, digits = f"{base}({digits})", None
    family = hashlib.sha256(f"{base}\x00{parts.extension}".encode("utf-8", "surrogatepass")).hexdigest()
    return family, digits


def claim_key(name: str) -> str:
    """The claim's sort key: at most 84 ASCII characters, one per case-insensitive name."""
    family, digits = _family_and_digits(name)
    return f"{family}=" if digits is None else f"{family}({digits})"


def _counter_of(key: str) -> int | None:
    """The `(n)` counter a claim key holds, when it is the canonical spelling RAGFlow would
    write (`kb(01)` is a name of its own and never blocks `kb(1)`)."""
    suffix = key[_FAMILY_LENGTH:]
    if not (suffix.startswith("(") and suffix.endswith(")")):
        return None
    digits = suffix[1:-1]
    return int(digits) if digits.isdigit() and str(int(digits)) == digits else None


def new_claim(scope: str, name: str, owner_id: str) -> NameClaimModel:
    return NameClaimModel(scope, claim_key(name), owner_id=owner_id, name=name)


def released_by(owner_id: str) -> Any:
    """The condition for deleting a claim: its owner's, or already gone. A claim written under an
    earlier key scheme (the raw lowercased name) is not where claim_key looks; its record can
    still be renamed or deleted, and never takes another owner's claim with it."""
    return (NameClaimModel.owner_id == owner_id) | NameClaimModel.scope.does_not_exist()


def is_claimed(scope: str, name: str) -> bool:
    try:
        NameClaimModel.get(scope, claim_key(name), consistent_read=True)
    except DoesNotExist:
        return False
    return True


def claimed_names(scope: str, names: Iterable[str]) -> set[str]:
    """Which of `names` are taken (case-insensitively), a hundred per BatchGetItem."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(claim_key(name), []).append(name)
    keys = list(by_key)
    claimed: set[str] = set()
    for start in range(0, len(keys), 100):
        batch = [(scope, key) for key in keys[start : start + 100]]
        for claim in NameClaimModel.batch_get(batch, consistent_read=True):
            claimed.update(by_key[str(claim.name_key)])
    return claimed


class NameBook:
    """Free names for one scope, at a cost that does not grow with how often a name is taken:
    one Query for a single name; for several, one BatchGetItem for the names asked for and one
    Query per family whose name is taken.

    A book remembers what it learned and what it handed out, so a batch of `a.txt`, `a.txt`
    becomes `a.txt`, `a(1).txt`. Names are only reserved once their claim is written (in the
    caller's transaction); when that fails, ask a fresh book.
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self._taken: set[str] = set()
        self._families_read: set[str] = set()
        self._looked_up: set[str] = set()

    def _look_up(self, names: list[str]) -> None:
        unknown = [name for name in names if claim_key(name) not in self._looked_up]
        if not unknown:
            return
        for name in claimed_names(self.scope, unknown):
            self._taken.add(claim_key(name))
        self._looked_up.update(claim_key(name) for name in unknown)

    def _read_family(self, family: str) -> None:
        if family in self._families_read:
            return
        for claim in NameClaimModel.query(
            self.scope,
            NameClaimModel.name_key.startswith(family),
            consistent_read=True,
            attributes_to_get=["name_key"],
        ):
            self._taken.add(str(claim.name_key))
        self._families_read.add(family)

    def free_names(self, names: list[str]) -> list[str]:
        """For each name in order: itself when free, else RAGFlow's next free suffixed name."""
        if len(names) == 1:  # the name's family holds its own claim too: one Query answers both
            self._read_family(_family_and_digits(names[0])[0])
            self._looked_up.add(claim_key(names[0]))
        else:
            self._look_up(names)
        chosen = []
        for name in names:
            free = self._free_name(name)
            self._taken.add(claim_key(free))
            chosen.append(free)
        return chosen

    def free_name(self, name: str) -> str:
        [free] = self.free_names([name])
        return free

    def _free_name(self, name: str) -> str:
        key = claim_key(name)
        if key not in self._taken:
            return name
        family, digits = _family_and_digits(name)
        if parse_name(name).digits is not None and digits is None:
            # An absurdly long counter: its successors are families of their own. Probe them.
            return first_free_name(name, self._probe)
        self._read_family(family)
        counters = (_counter_of(taken) for taken in self._taken if taken.startswith(family))
        free = lowest_free_name(name, (counter for counter in counters if counter is not None))
        if _family_and_digits(free)[0] != family:  # the counter outgrew its family's keys
            return first_free_name(free, self._probe)
        return free

    def _probe(self, name: str) -> bool:
        key = claim_key(name)
        if key not in self._looked_up:
            self._look_up([name])
        return key in self._taken
