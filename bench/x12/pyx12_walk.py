"""The peer of the X12 benchmark: pyx12's X12ContextReader merely iterating the 2300 (claim) loops.

Run as a child process by bench/run.py: ``python bench/x12/pyx12_walk.py FILE`` prints
``{"seconds": …, "claims": …}``. The clock starts when pyx12 is imported (reading its maps is part of
the walk) and stops after the last loop; nothing is mapped, only walked.
"""

from __future__ import annotations

import json
import sys
import time


def walk(path: str) -> tuple[float, int]:
    started = time.perf_counter()
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    param = pyx12.params.params()
    errh = pyx12.error_handler.errh_null()
    src = pyx12.x12context.X12ContextReader(param, errh, path)
    n = sum(1 for node in src.iter_segments("2300") if node.id == "2300")
    return time.perf_counter() - started, n


if __name__ == "__main__":
    seconds, claims = walk(sys.argv[1])
    print(json.dumps({"seconds": seconds, "claims": claims}))
