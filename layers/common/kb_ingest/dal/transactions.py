"""Reading why DynamoDB cancelled a transaction."""

from pynamodb.exceptions import TransactWriteError


def cancelled_by_condition(error: TransactWriteError, position: int) -> bool:
    """Did the item at `position` of the transaction fail its condition?"""
    reasons = error.cancellation_reasons or []
    reason = reasons[position] if position < len(reasons) else None
    return reason is not None and reason.code == "ConditionalCheckFailed"


def failed_positions(error: TransactWriteError) -> list[int]:
    return [
        position
        for position, reason in enumerate(error.cancellation_reasons or [])
        if reason is not None and reason.code == "ConditionalCheckFailed"
    ]


def is_conflict(error: TransactWriteError) -> bool:
    """Another transaction touched the same items at the same moment: try again."""
    return any(
        reason is not None and reason.code == "TransactionConflict" for reason in error.cancellation_reasons or []
    )
