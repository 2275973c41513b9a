"""The package's messages that the dashboard shows (a refused training option, missing data, a checkpoint
that will not load, a run that failed), kept in English here and said in the user's language there.

A message is made with say(N_("… {name} …"), name=value): a str, the English sentence itself (what the CLI
prints, what str() of the exception that carries it gives, what status.json records), which also keeps the
template it was made from and its values. N_ marks the template for extraction (babel.cfg reads the package
for it, `make messages`); the package itself never translates and knows nothing of the dashboard:
app_pages.i18n.said looks the template up in the session's catalog and fills in the values, a value that is
a message itself said the same way. A message crosses a process boundary as JSON (to_json, from_json):
the training process records its failure in status.json that way.

A template is a str.format string with named fields; a value is a str, a number or another message."""
from __future__ import annotations

MAX_DEPTH = 4           # messages inside messages, as from_json accepts them


def N_(message: str) -> str:
    """Marks `message` for extraction (the dashboard's catalog); it stays as it is."""
    return message


class Message(str):
    """An English sentence that remembers its template and values (say)."""

    def __new__(cls, template: str, params: dict | None = None) -> "Message":
        params = dict(params or {})
        self = super().__new__(cls, template.format(**params))
        self.template, self.params = template, params
        return self

    def __reduce__(self):                 # pickled (Streamlit's caches) and copied as template and values
        return Message, (self.template, self.params)

    def to_json(self) -> dict:
        return {"id": self.template,
                "params": {name: value.to_json() if isinstance(value, Message) else value
                           for name, value in self.params.items()}}


def say(template: str, **params) -> Message:
    """The message `template` (marked with N_ where it is written) with its fields filled in from `params`."""
    return Message(template, params)


def message_of(value) -> Message | None:
    """The message `value` is, or the one an exception was raised with; None for anything else."""
    if isinstance(value, Message):
        return value
    if isinstance(value, BaseException) and len(value.args) == 1 and isinstance(value.args[0], Message):
        return value.args[0]
    return None


def from_json(record, known=lambda template: True, depth: int = 0) -> Message | None:
    """The message a to_json record describes; None unless it is one, with templates that `known` accepts
    (a record read from a file is only as good as the file: a template nobody wrote is not formatted)."""
    if not (isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("params"), dict)
            and depth <= MAX_DEPTH and known(record["id"])):
        return None
    params = {}
    for name, value in record["params"].items():
        if isinstance(value, dict):
            value = from_json(value, known, depth + 1)
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            return None
        params[name] = value
    try:
        return Message(record["id"], params)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return None
