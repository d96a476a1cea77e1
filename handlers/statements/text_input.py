"""A statement's text as a coordinator gives it, in drafting, editing and translating: typed
in one or more messages, or one file (a plain text read as the text; a PDF, Word or
OpenDocument file kept as the version's document, with a typed summary as its text)."""

from __future__ import annotations

from bot.context import Context, UserError
from bot.conversation import Answers, InvalidAnswer, Json, Step
from bot.file_reads import FileUnreadable
from bot.types import Literal, Message, Platform, Text
from storage.statement_records import FILE_MAX, FILENAME_MAX, TEXT_MAX, StatementFile

PLAIN_FILES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}
"""Files read as the text itself."""
DOCUMENTS = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
}
"""Files kept as the version's document, with a typed summary as its text."""
TEXT_STEP, SUMMARY_STEP = "text", "summary"
PREVIEW = 300
"""How much of a text the review shows."""


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def file_kind(file: dict[str, Json]) -> str | None:
    """``"plain"`` (read as the text), ``"document"`` (kept), or ``None`` (not kept),
    by the file's name, else its content type."""
    suffix = _suffix(str(file.get("filename") or ""))
    content_type = str(file.get("content_type") or "").split(";")[0].strip().lower()
    if suffix in PLAIN_FILES or (not suffix and content_type in PLAIN_FILES.values()):
        return "plain"
    if suffix in DOCUMENTS or (not suffix and content_type in DOCUMENTS.values()):
        return "document"
    return None


def read_text_piece(text: str) -> Json:
    """One message of a statement's text, kept as typed (line breaks and all)."""
    if len(text) > TEXT_MAX:
        raise InvalidAnswer("statements.create.text_too_long", limit=TEXT_MAX)
    return text


def finish_text(pieces: list[Json]) -> Json:
    """The messages typed, joined as paragraphs (``{"text": ...}``), or one file
    (``{"file": ...}``) of a kind kept and not too big; never both."""
    files = [p["file"] for p in pieces if isinstance(p, dict) and isinstance(p.get("file"), dict)]
    typed = [p for p in pieces if isinstance(p, str)]
    if files and (len(files) > 1 or typed):
        raise InvalidAnswer("statements.create.one_file")
    if files:
        file = files[0]
        assert isinstance(file, dict)
        if file_kind(file) is None:
            raise InvalidAnswer("statements.create.file_kind")
        size = file.get("size")
        if isinstance(size, int) and size > FILE_MAX:
            raise InvalidAnswer("statements.create.file_too_big", megabytes=FILE_MAX // 2**20)
        return {"file": file}
    text = "\n\n".join(str(piece) for piece in typed)
    if len(text) > TEXT_MAX:
        raise InvalidAnswer("statements.create.text_too_long", limit=TEXT_MAX)
    return {"text": text}


def show_text(value: Json) -> Text:
    """The text as the review shows it: its beginning, or the file's name."""
    if isinstance(value, dict) and isinstance(value.get("file"), dict):
        return Message.of(
            "statements.create.file_shown", name=Literal(str(value["file"].get("filename") or ""))
        )
    text = str(value.get("text", "")) if isinstance(value, dict) else str(value)
    cut = text if len(text) <= PREVIEW else text[:PREVIEW].rstrip() + " …"
    return Message.of("statements.create.text_shown", text=Literal(cut), length=len(text))


def needs_summary(answers: Answers) -> bool:
    value = answers.get(TEXT_STEP)
    if isinstance(value, dict) and isinstance(value.get("file"), dict):
        return file_kind(value["file"]) == "document"
    return False


def text_steps(prompt: str, label: str, after: str | None) -> tuple[Step, Step]:
    """The text (typed in one or more messages, or one file) and, for a document kept as
    it is, the typed summary members read as its text; then ``after`` (``None``: review)."""
    return (
        Step(
            TEXT_STEP,
            prompt,
            label,
            parse=read_text_piece,
            gather=True,
            accepts_media=True,
            finish=finish_text,
            show=show_text,
            max_items=40,
            hint="statements.create.text_hint",
            next=lambda answers: SUMMARY_STEP if needs_summary(answers) else after,
        ),
        Step(
            SUMMARY_STEP,
            "statements.create.ask_summary",
            "statements.create.field_summary",
            parse=read_text_piece,
            show=lambda value: show_text({"text": value}),
            next=lambda answers: after,
        ),
    )


def text_of(context: Context, answers: Answers) -> tuple[str, StatementFile | None]:
    """The text (and the document kept) the answers give, read now: a plain file as its
    text, a document as the version's file with the summary typed as its text."""
    value = answers.get(TEXT_STEP)
    if not isinstance(value, dict):
        raise UserError("statements.create.empty_text")
    file = value.get("file")
    if not isinstance(file, dict):
        return _checked(str(value.get("text") or "")), None
    kind = file_kind(file)
    data = _file_bytes(context, file)
    if kind == "plain":
        try:
            return _checked(data.decode("utf-8-sig")), None
        except UnicodeDecodeError:
            raise UserError("statements.create.file_not_text") from None
    name = str(file.get("filename") or "statement")[:FILENAME_MAX]
    content_type = DOCUMENTS.get(_suffix(name)) or str(file.get("content_type"))
    summary = _checked(str(answers.get(SUMMARY_STEP) or ""))
    return summary, StatementFile(filename=name, content_type=content_type, data=data)


def _checked(text: str) -> str:
    cleaned = text.replace("\r\n", "\n").strip()
    if not cleaned:
        raise UserError("statements.create.empty_text")
    if len(cleaned) > TEXT_MAX:
        raise UserError("statements.create.text_too_long", limit=TEXT_MAX)
    return cleaned


def _file_bytes(context: Context, file: dict[str, Json]) -> bytes:
    platform, ref = file.get("platform"), file.get("ref")
    if platform not in {p.value for p in Platform} or not isinstance(ref, str):
        raise UserError("statements.create.file_unreadable")
    try:
        data = context.file_reads.read(Platform(str(platform)), ref, FILE_MAX)
    except FileUnreadable:
        raise UserError("statements.create.file_unreadable") from None
    if len(data) > FILE_MAX:
        raise UserError("statements.create.file_too_big", megabytes=FILE_MAX // 2**20)
    return data
