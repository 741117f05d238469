"""Shared start-up for the scripts: project root, one-line user errors, the model to use."""

import atexit
import gc
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from digit_recognizer.inference import Classifier

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "conf")
# Configs resolve every path from here, so runs land in this clone whatever the current directory.
# An empty PROJECT_ROOT counts as unset: it would put the store at /mlruns.
if not os.environ.get("PROJECT_ROOT"):
    os.environ["PROJECT_ROOT"] = str(PROJECT_ROOT)

# At exit the cyclic collector would walk every object torch, Lightning and MLflow made
# (about 2 s on a 2-core CPU) only for the OS to free the memory anyway. Frozen objects are
# skipped; files, databases and logs are still closed as usual.
atexit.register(gc.freeze)


@contextmanager
def loading_libraries() -> Iterator[None]:
    """Import the heavy libraries with the cyclic collector paused: their import makes millions
    of long-lived objects that it would otherwise scan again and again (about 1 s of a
    training's start-up). What they made is then frozen out of later collections."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def hydra_quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value that parses back to exactly ``value``:
    spaces, commas, brackets, quotes, ``=`` and non-ASCII names included."""
    # In Hydra's quoted strings a backslash escapes only a quote or the backslashes before
    # one (and at the end); ``${`` would start an interpolation.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return "'" + escaped.replace("${", "\\${") + "'"


# Hydra's command-line flags that take the next argument as their value.
HYDRA_FLAGS_WITH_VALUE = frozenset(
    {
        *("--cfg", "-c", "--package", "-p", "--config-path", "-cp"),
        *("--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun"),
    }
)


def path_arguments(argv: list[str], path_keys: Iterable[str], list_key: str | None) -> list[str]:
    """Command-line arguments with file names made safe for Hydra's override grammar.

    ``key=VALUE`` for a key of ``path_keys`` gets VALUE quoted, whatever characters it holds.
    With ``list_key`` (predict's ``img``): arguments without ``=`` that are not flags, and
    arguments that exist as files, are more values of that list, as is ``img=VALUE`` unless
    VALUE is a Hydra list (``img=[a.png,b.png]``) that does not exist as a file.
    """
    keys = set(path_keys)
    items: list[str] = []
    rest: list[str] = []
    flags: list[str] = []  # last: argparse takes no overrides after them
    flag_value_next = False
    for argument in argv:
        key, equals, value = argument.partition("=")
        if flag_value_next:  # the value of Hydra's --cfg job, --config-name x, ...
            flags.append(argument)
            flag_value_next = False
        elif argument.startswith("-"):
            flags.append(argument)
            flag_value_next = argument in HYDRA_FLAGS_WITH_VALUE
        elif list_key and (not equals or Path(argument).exists()):
            items.append(argument)
        elif (
            list_key
            and key == list_key
            and not (_is_hydra_list(value) and not Path(value).exists())
        ):
            items.append(value)
        elif key in keys and value not in ("", "null") and value[:1] not in "'\"":
            rest.append(f"{key}={hydra_quoted(value)}")
        else:
            rest.append(argument)
    if items:
        rest.append(f"{list_key}=[{','.join(hydra_quoted(item) for item in items)}]")
    return [*rest, *flags]


def _is_hydra_list(value: str) -> bool:
    return value.startswith("[") and value.endswith("]")


def report_user_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ``UserError`` as one line on stderr and exit with its code, instead of a
    traceback; Ctrl-C is one line too, and exit status 130, as a shell reports it; a closed
    pipe on stdout ends the command quietly (141, as for any command cut off by ``head``)."""
    from digit_recognizer.errors import UserError

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


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, inside ``sigterm_as_interrupt``: the caller keeps what it has."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code  # 128 + signal number, as a shell reports it


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM that arrive within the block take effect when it is done."""
    arrived: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda n, _: arrived.append(n)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in arrived[:1]:
            signal.raise_signal(signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: Ctrl-C and SIGTERM both raise ``Interrupted``, so a loop that gives answers as
    it goes can say how far it got instead of dying with a traceback (Ctrl-C) or silently
    (SIGTERM)."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise Interrupted("SIGTERM", 128 + signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("Ctrl-C", 128 + signal.SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def checked_options(schema_name: str, cfg: "DictConfig") -> None:
    """Refuse, before any work, options that do not fit the script's schema (one sentence)."""
    from digit_recognizer import config_schema

    config_schema.check_options(getattr(config_schema, schema_name), cfg)


def choose_model(cfg: "DictConfig") -> "Classifier":
    """The model a script's config names: ``ckpt``, else ``run_id``, else the best run of the
    configured MLflow store (none with ``logger=none``)."""
    from digit_recognizer.inference import choose_classifier

    logger = cfg.get("logger") or {}
    return choose_classifier(
        cfg.get("ckpt"),
        cfg.get("run_id"),
        logger.get("tracking_uri", ""),
        logger.get("experiment_name", ""),
        cfg.get("select_by"),
    )
