"""Study files: a study's settings and texts in TOML, read with the standard library's ``tomllib``.

``create_study --config study.toml`` reads one; ``export_study_config STUDY`` writes one back, so a
study can be kept under version control and built again the same on another machine (the same
seed, methods, questions, platforms and texts: the same sheets). The keys are :data:`KEYS`, each
naming the argument of :func:`survey.services.create_study` it fills: the file, the command's
flags and the create page are three ways to give the same arguments, checked by the same service.

A wrong key or value is refused in one line that names the key (``study.toml: texts.contact_email:
Enter a valid email address.``) before anything is written.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .models import Study
from .services import TEXT_FIELDS, BadStudyInput, check_method_names, check_texts

#: The sections of a study file besides its top level.
PLATFORMS, TEXTS = "platforms", "texts"


@dataclass(frozen=True)
class Key:
    """One key of a study file: where it sits, the TOML type it takes, the argument it fills."""

    name: str
    type: type
    argument: str | None  # of create_study; None for explanation_set, which names the set, not an argument
    section: str = ""
    help: str = ""

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def _text_type(name: str) -> type:
    return int if Study._meta.get_field(name).get_internal_type().endswith("IntegerField") else str


KEYS: tuple[Key, ...] = (
    Key("explanation_set", str, None, help="name of the explanation set (see /explanations/)"),
    Key("name", str, "name", help="the title participants see"),
    Key("slug", str, "slug", help="the study's URL name"),
    Key("methods", list, "methods", help="2 to 6 registry names"),
    Key("real_questions", int, "n_real_questions", help="a multiple of lcm(classes, number of methods)"),
    Key("attention_checks", int, "n_attention_checks"),
    Key("pass_threshold", int, "pass_threshold", help="attention checks a participant must pass to count"),
    Key("seed", int, "seed", help="draws the attention checks (random when absent)"),
    Key("status", str, "status", help=" or ".join(Study.Status.values)),
    Key("mnist_dir", str, "mnist_dir", help="official MNIST files for the attention checks' pictures"),
    Key("data", str, "data", help="the set's data set for the pictures: mnist:DIR or imagefolder:DIR"),
    Key("mturk", bool, "accept_mturk", PLATFORMS),
    Key("direct", bool, "accept_direct", PLATFORMS),
    Key("prolific_code", str, "prolific_completion_code", PLATFORMS, "accepts Prolific participants"),
    Key("prolific_failed_code", str, "prolific_failed_code", PLATFORMS, "for those who fail the checks"),
    *(Key(name, _text_type(name), name, TEXTS) for name in TEXT_FIELDS),
)
_BY_PATH = {key.path: key for key in KEYS}
_BY_ARGUMENT = {key.argument: key for key in KEYS if key.argument}
_SECTIONS = {PLATFORMS, TEXTS}
_TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", list: "a list of strings"}


class StudyFileError(Exception):
    """A study file that cannot be read or that says something wrong; the message is one line."""


@dataclass(frozen=True)
class StudyFile:
    """What a study file says: the explanation set's name and :func:`create_study`'s arguments."""

    explanation_set: str | None
    arguments: dict


def key_for(argument: str) -> str:
    """The study file's key of ``create_study``'s argument (``n_real_questions`` -> ``real_questions``)."""
    key = _BY_ARGUMENT.get(argument)
    return key.path if key else argument


def read(path: str | Path) -> StudyFile:
    """The study file at ``path``, its keys and values checked; :class:`StudyFileError` when wrong."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise StudyFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse(data)
    except StudyFileError as exc:
        raise StudyFileError(f"{path}: {exc}") from None


def parse(data: dict) -> StudyFile:
    """A study file's parsed TOML as a :class:`StudyFile` (errors name the key, without the file)."""
    values: dict[str, object] = {}
    for name, value in data.items():
        if name in _SECTIONS:
            if not isinstance(value, dict):
                raise StudyFileError(f"{name}: expected a table ([{name}])")
            values.update({f"{name}.{inner}": item for inner, item in value.items()})
        else:
            values[name] = value
    arguments: dict[str, object] = {}
    for path, value in values.items():
        key = _BY_PATH.get(path)
        if key is None:
            section = path.rpartition(".")[0]
            known = ", ".join(k.name for k in KEYS if k.section == section)
            raise StudyFileError(f"{path}: unknown key (known here: {known})")
        if not _has_type(value, key.type):
            raise StudyFileError(f"{path}: expected {_TYPE_WORDS[key.type]}, got {value!r}")
        if key.argument:
            arguments[key.argument] = tuple(value) if key.type is list else value
    _check(arguments)
    code = arguments.get("prolific_completion_code")
    if code is not None:
        arguments["accept_prolific"] = bool(code)
    return StudyFile(values.get("explanation_set"), arguments)


def _has_type(value, expected: type) -> bool:
    if expected is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return type(value) is expected  # bool is an int in Python, not in TOML


def _check(arguments: dict) -> None:
    """What can be checked without the database: the methods' names, the status, the texts."""
    try:
        if "methods" in arguments:
            check_method_names(arguments["methods"])
        if "status" in arguments and arguments["status"] not in Study.Status.values:
            raise BadStudyInput(f"{arguments['status']!r}: use {', '.join(Study.Status.values)}", "status")
        check_texts({name: value for name, value in arguments.items() if name in TEXT_FIELDS})
    except BadStudyInput as exc:
        raise StudyFileError(message(exc)) from None


def message(exc: BadStudyInput) -> str:
    """``create_study``'s refusal in a study file's words: the key first, then the service's sentence."""
    if exc.field is None:
        return exc.message
    text = exc.message.removeprefix(f"{exc.field}: ")
    return f"{key_for(exc.field)}: {text}"


# --- writing ---------------------------------------------------------------------------------------


#: Arguments that say where pictures came from, not what the study is: a study does not keep them.
_NOT_KEPT = ("mnist_dir", "data")


def arguments_of(study: Study) -> dict:
    """The :func:`create_study` arguments that build ``study`` again (its seed and every text included)."""
    # Every argument a key fills is also the name of the study's field that keeps it.
    arguments = {
        key.argument: getattr(study, key.argument) for key in KEYS if key.argument and key.argument not in _NOT_KEPT
    }
    arguments["methods"] = tuple(study.methods)
    if not study.accept_prolific:
        arguments["prolific_completion_code"] = arguments["prolific_failed_code"] = ""
    return arguments


def dumps(study: Study) -> str:
    """``study`` as a study file: every key, in :data:`KEYS`' order, readable by :func:`read`."""
    arguments = arguments_of(study)
    lines = [
        f"# Study {study.slug}, written by export_study_config; create it with",
        "# manage.py create_study --config FILE (see docs/tutorial-own-study.md).",
    ]
    section = ""
    for key in KEYS:
        if key.section != section:
            section = key.section
            lines += ["", f"[{section}]"]
        if key.name == "explanation_set":
            value = study.explanation_set.name
        elif key.argument in arguments:
            value = arguments[key.argument]
        else:
            continue
        comment = f"  # {key.help}" if key.help and "\n" not in str(value) else ""
        lines.append(f"{key.name} = {toml_value(value)}{comment}")
    return "\n".join(lines) + "\n"


def toml_value(value) -> str:
    """``value`` (a string, integer, boolean or sequence of strings) as TOML.

    Written here rather than with a library: the standard library reads TOML but does not write
    it, and a study file needs only these four types; texts of several lines are written as
    multi-line strings so they read as they will be shown.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    return "[" + ", ".join(_string(item) for item in value) + "]"


def _escape(text: str, keep: str) -> str:
    out = []
    for char in text:
        if char in keep:
            out.append(char)
        elif char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\t":
            out.append("\\t")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _string(text: str) -> str:
    if "\n" in text:
        # Multi-line basic string: its first newline is dropped by the reader; every quote is
        # escaped, so no run of three can end it early.
        return '"""\n' + _escape(text, keep="\n") + '"""'
    return '"' + _escape(text, keep="") + '"'
