"""Command-line arguments made safe for Hydra's override grammar: file names of any shape."""

import re
from collections.abc import Iterable
from pathlib import Path


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
        elif list_key and argument.startswith("-") and Path(argument).is_file():
            items.append(argument)  # an image named --help is an image: a file is a file
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
