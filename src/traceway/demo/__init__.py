"""``traceway demo``: a small shop of traced Python services that sends live traces.

``add_arguments(parser)`` and ``run(args)`` plug into the ``traceway`` CLI;
``python -m traceway.demo`` works too.
"""

from traceway.demo.supervisor import add_arguments, run

__all__ = ["add_arguments", "run"]
