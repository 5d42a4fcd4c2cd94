"""Name claims: one item per taken name in a scope, checked and written inside transactions."""

from pynamodb.exceptions import DoesNotExist

from kb_ingest.dal.models import NameClaimModel
from kb_ingest.domain.naming import name_key


def dataset_name_scope(tenant_id: str) -> str:
    return f"datasets#{tenant_id}"


def document_name_scope(dataset_id: str) -> str:
    return f"documents#{dataset_id}"


def is_claimed(scope: str, name: str) -> bool:
    try:
        NameClaimModel.get(scope, name_key(name), consistent_read=True)
    except DoesNotExist:
        return False
    return True


def claimed_keys(scope: str, names: list[str]) -> set[str]:
    """Which of `names` are taken, a hundred per BatchGetItem."""
    keys = list({name_key(name) for name in names})
    claimed: set[str] = set()
    for start in range(0, len(keys), 100):
        batch = [(scope, key) for key in keys[start : start + 100]]
        claimed.update(str(claim.name_key) for claim in NameClaimModel.batch_get(batch, consistent_read=True))
    return claimed
