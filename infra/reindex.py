"""Re-index a dataset: every document of it, from its visible chunks, through the index queue.

    python -m infra.reindex --local DATASET_ID        # against the stack `make serve` runs
    python -m infra.reindex DATASET_ID                # against AWS: the stack's table names and
                                                      # INDEX_QUEUE_URL in the environment

The repair for changes the chunk feed lost: a stream batch in ChunkFeedDeadLetterQueue, or, on the
local stack, a change made in the instant before a crash (moto keeps no stream records across a
restart). Each document goes through the same FIFO group and lag accounting as the feed, so it
is safe while the feed runs and `search_lag` shows the re-index draining.
"""

import argparse
import sys

from infra.reparse import _use_local_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.reindex", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset_id")
    parser.add_argument("--local", action="store_true", help="use the stack started by `make serve`")
    args = parser.parse_args(argv)
    if args.local:
        _use_local_stack()

    from kb_ingest.dal.datasets import get_dataset_store
    from kb_ingest.dal.search_feed import request_reindex

    dataset = get_dataset_store().find(args.dataset_id)
    if dataset is None:
        print(f"No dataset {args.dataset_id}.", file=sys.stderr)
        return 1
    queued = request_reindex(dataset.tenant_id, dataset.id)
    print(f"Queued {queued} document(s) of {dataset.name!r} ({dataset.id}) for re-indexing.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
