"""How a script ends on a mistake: one line on stderr and a documented exit status, never a
traceback; Hydra's own errors included."""

import atexit
import gc
import os
import re
import signal
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from digit_recognizer.errors import UserError


def report_user_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ``UserError`` as one line on stderr and exit with its code, instead of a
    traceback; Ctrl-C is one line too, and exit status 130, as a shell reports it; a closed
    pipe on stdout ends the command quietly (141, as for any command cut off by ``head``)."""

    @wraps(task)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            print("interrupted by Ctrl-C", file=sys.stderr)
            sys.exit(128 + signal.SIGINT)
        except BrokenPipeError:  # `predict.py photos/ | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush at exit
            sys.exit(128 + signal.SIGPIPE)

    return wrapper


def run_main(main: Callable[[], Any]) -> None:
    """Call a script's Hydra ``main``: an option Hydra cannot apply (an unknown key, a
    malformed override, a config group choice that does not exist) is one line and exit 2,
    like a bad value, not Hydra's several lines and exit 1."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then raises its errors here, unprinted
    # At exit the cyclic collector would walk every object torch, Lightning and MLflow made,
    # only for the OS to free the memory anyway (docs/performance.md). Frozen objects are
    # skipped; files, databases and logs are still closed as usual.
    atexit.register(gc.freeze)
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"error: {_hydra_sentence(err)}", file=sys.stderr)
        sys.exit(2)


def _hydra_sentence(err: BaseException) -> str:
    """Hydra's message on one line: its own lines, then the cause's first, without the list
    of config search paths."""
    unknown = re.match(r"Could not override '([^']+)'", str(err))
    if unknown and "not in struct" in str(err.__cause__):
        return f"There is no option {unknown[1]} (a typo? `--cfg job` shows the options)."
    text = str(err).split("Config search path:")[0]
    words = " ".join(line.strip() for line in text.splitlines() if line.strip())
    cause = str(err.__cause__).strip().splitlines() if err.__cause__ else []
    return f"{words} ({cause[0]})" if cause and cause[0] not in words else words
