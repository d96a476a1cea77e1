"""One person, several accounts: ``/connect`` joins a member's own accounts (a Telegram and
a Matrix account, say) into one member with a one-time code; ``/disconnect`` splits one off.

Not ``/link``, which links rooms to a working group. A code is 8 characters of Crockford's
base 32 (no I, L, O or U), shown as ``ABCD-EFGH`` and read in any case, with or without the
dash; only a keyed digest of it is stored (:mod:`storage.accounts`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence

from bot.bridge import installation_secret
from bot.context import Context, UserError
from bot.notices import notify_member
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Platform, Reply
from storage import IdentityRecord
from storage.accounts import CODE_LIFETIME, Redeemed, Redemption
from storage.merging import MergeOutcome, ValueChoice

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base 32: no I, L, O or U, which are read as 1, 1, 0 and (refused) V."""
CODE_LENGTH = 8
READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
MOVED_REPORTS = "case_reports"
MOVED_ROLES = "memberships"
NOT_COUNTED = frozenset({"identities", "audit_log"})
"""Moved rows not worth telling the member about (their accounts are listed instead)."""
FIELD_KEYS = {
    "language": "accounts.field.language",
    "time_zone": "accounts.field.time_zone",
    "display_name": "accounts.field.display_name",
    "organization": "accounts.field.organization",
}


def register(registry: Registry) -> None:
    registry.command(
        "connect",
        connect,
        help_key="help.connect",
        direct_only=True,
        typed_in_public=void_code_seen,
    )
    registry.command("disconnect", disconnect, help_key="help.disconnect", direct_only=True)


# -- codes ----------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """``ABCDEFGH`` as ``ABCD-EFGH``: easier to read out and to type."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def read_code(words: Sequence[str]) -> str | None:
    """The code typed (any case, with or without dash or spaces), or ``None`` if it is not one."""
    typed = "".join(words).replace("-", "").replace(" ", "").upper().translate(READ_AS)
    if len(typed) != CODE_LENGTH or any(char not in ALPHABET for char in typed):
        return None
    return typed


def code_digest(secret: bytes, code: str) -> str:
    """What is stored of a code: keyed, so that the stored digests cannot be searched."""
    return hmac.new(secret, b"connect:" + code.encode("ascii"), hashlib.sha256).hexdigest()


# -- /connect ---------------------------------------------------------------------------------


def connect(context: Context, command: Command) -> Sequence[Reply]:
    """``/connect``: a code for the other account; ``/connect CODE``: connect to its owner."""
    secret = installation_secret(context.config.data_dir)
    if not command.args:
        code = new_code()
        context.store.accounts.issue_code(context.member.id, code_digest(secret, code))
        log.info("connect_code_issued member=%d", context.member.id)
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        return [
            Reply(
                Message.of(
                    "accounts.code",
                    code=Literal(shown(code)),
                    connect=CommandRef("connect"),
                    minutes=minutes,
                )
            )
        ]
    typed = read_code(command.args)
    if typed is None:
        raise UserError(
            "accounts.code_malformed",
            example=Literal("ABCD-EFGH"),
            connect=CommandRef("connect"),
        )
    origin = context.origin
    redemption = context.store.accounts.redeem(
        origin.platform, origin.user_id, code_digest(secret, typed)
    )
    # Wrong tries are answered, not raised: a refusal would undo the try being counted.
    log.info("connect_code_typed member=%d outcome=%s", context.member.id, redemption.status.value)
    if redemption.status is Redeemed.LOCKED:
        return [Reply(Message.of("accounts.locked", connect=CommandRef("connect")))]
    if redemption.status is Redeemed.WRONG:
        if redemption.tries_left == 0:
            return [Reply(Message.of("accounts.code_wrong_last"))]
        return [Reply(Message.counted("accounts.code_wrong", redemption.tries_left))]
    if redemption.status is Redeemed.OWN_CODE:
        return [Reply(Message.of("accounts.own_code", whoami=CommandRef("whoami")))]
    if redemption.status is Redeemed.SAME_PLATFORM:
        platform = Message.of(f"platform.{context.origin.platform.value}")
        return [Reply(Message.of("accounts.same_platform", platform=platform))]
    return _connected(context, redemption)


def void_code_seen(context: Context, command: Command) -> Sequence[Reply]:
    """``/connect CODE`` typed where others read it: whoever saw the code could join their
    account to its owner's and read their reports. The code is voided at once, and its
    owner told in private; nothing is connected."""
    typed = read_code(command.args)
    if typed is None:
        return []
    secret = installation_secret(context.config.data_dir)
    owner = context.store.accounts.void_code(code_digest(secret, typed))
    if owner is None:
        return []
    log.info("connect_code_voided member=%d", owner)
    told = Message.of("accounts.code_voided", connect=CommandRef("connect"))
    notices = notify_member(context.store, owner, told, enabled=context.config.enabled_platforms)
    return [Reply(Message.of("accounts.code_voided_here")), *notices]


def _connected(context: Context, redemption: Redemption) -> Sequence[Reply]:
    merge = redemption.merge
    assert merge is not None
    kept = context.store.members.get(merge.kept_member_id)
    assert kept is not None
    context.store.audit.record(
        "account.connected",
        merge.kept_member_id,
        member_id=merge.kept_member_id,
        detail={
            "merged_member": merge.merged_member_id,
            "accounts_moved": merge.moved.get("identities", 0),
            "rows_moved": sum(merge.moved.values()),
            "rows_combined": sum(merge.combined.values()),
        },
    )
    summary = Reply(Lines(tuple(merge_summary(context, merge))), language=kept.language)
    origin = context.origin
    told = Message.of(
        "accounts.connected_notice",
        platform=Message.of(f"platform.{origin.platform.value}"),
        disconnect=CommandRef("disconnect"),
        slug=Literal(origin.platform.value),
    )
    notices = [
        notice
        for notice in notify_member(
            context.store, merge.kept_member_id, told, enabled=context.config.enabled_platforms
        )
        if notice.to is not None
        and (notice.to.platform, notice.to.user_id) != (origin.platform, origin.user_id)
    ]
    return [summary, *notices]


def merge_summary(context: Context, merge: MergeOutcome) -> list[Message | Literal]:
    """What the member is told: their accounts, what came over, which values stayed."""
    lines: list[Message | Literal] = [Message.of("accounts.connected", number=merge.kept_member_id)]
    lines.extend(_account_line(identity) for identity in _accounts(context, merge.kept_member_id))
    moved = _counted_moves(merge.moved)
    if moved:
        lines.append(Message.of("accounts.moved_header"))
        lines.extend(moved)
    else:
        lines.append(Message.of("accounts.moved_nothing"))
    roles = merge.combined.get(MOVED_ROLES, 0)
    if roles:
        lines.append(Message.counted("accounts.roles_combined", roles))
    if merge.combined.get("conversations"):
        lines.append(Message.of("accounts.conversations_combined"))
    for choice in merge.older_kept:
        if choice.column in FIELD_KEYS:
            lines.append(
                Message.of(
                    "accounts.older_kept",
                    what=Message.of(FIELD_KEYS[choice.column]),
                    kept=_value(choice, choice.kept),
                    other=_value(choice, choice.other),
                )
            )
    for choice in merge.taken:
        if choice.column in FIELD_KEYS:
            lines.append(
                Message.of(
                    "accounts.taken",
                    what=Message.of(FIELD_KEYS[choice.column]),
                    value=_value(choice, choice.other),
                )
            )
    lines.append(
        Message.of(
            "accounts.connected_footer",
            myreports=CommandRef("myreports"),
            disconnect=CommandRef("disconnect"),
        )
    )
    return lines


def _counted_moves(moved: Mapping[str, int]) -> list[Message | Literal]:
    lines: list[Message | Literal] = []
    if moved.get(MOVED_REPORTS):
        lines.append(Message.counted("accounts.moved_reports", moved[MOVED_REPORTS]))
    if moved.get(MOVED_ROLES):
        lines.append(Message.counted("accounts.moved_roles", moved[MOVED_ROLES]))
    others = sum(
        count
        for table, count in moved.items()
        if table not in NOT_COUNTED | {MOVED_REPORTS, MOVED_ROLES}
    )
    if others:
        lines.append(Message.counted("accounts.moved_other", others))
    return lines


def _value(choice: ValueChoice, value: object) -> Message | Literal:
    if choice.column == "language" and isinstance(value, str):
        return Message.of("language.native_name@" + value)
    return Literal(str(value))


def _accounts(context: Context, member_id: int) -> list[IdentityRecord]:
    return context.store.members.identities_of(member_id)


def _account_line(identity: IdentityRecord) -> Message:
    return Message.of(
        "accounts.account_line",
        platform=Message.of(f"platform.{identity.platform.value}"),
        user=Literal(identity.user_id),
    )


# -- /disconnect ------------------------------------------------------------------------------


def disconnect(context: Context, command: Command) -> Sequence[Reply]:
    """``/disconnect``: this account; ``/disconnect PLATFORM [ACCOUNT]``: another of yours."""
    mine = _accounts(context, context.member.id)
    target = _target(context, command, mine)
    if len(mine) < 2:
        raise UserError("accounts.last_account", connect=CommandRef("connect"))
    split = context.store.accounts.split_off(context.member.id, target.platform, target.user_id)
    context.store.audit.record(
        "account.disconnected",
        context.member.id,
        member_id=context.member.id,
        detail={"new_member": split.new_member_id, "accounts_left": split.accounts_left},
    )
    log.info("account_disconnected member=%d new=%d", context.member.id, split.new_member_id)
    return [
        Reply(
            Message.of(
                "accounts.disconnected",
                platform=Message.of(f"platform.{target.platform.value}"),
                user=Literal(target.user_id),
                number=split.new_member_id,
                kept=context.member.id,
            )
        )
    ]


def _target(context: Context, command: Command, mine: list[IdentityRecord]) -> IdentityRecord:
    origin = context.origin
    if not command.args:
        return IdentityRecord(origin.platform, origin.user_id)
    platforms = {platform.value: platform for platform in Platform}
    platform = platforms.get(command.args[0].lower())
    if platform is None or len(command.args) > 2:
        raise UserError(
            "accounts.disconnect_usage",
            disconnect=CommandRef("disconnect"),
            platforms=Literal(", ".join(sorted({identity.platform.value for identity in mine}))),
        )
    there = [identity for identity in mine if identity.platform is platform]
    if len(command.args) == 2:
        there = [identity for identity in there if identity.user_id == command.args[1]]
    if not there:
        raise UserError(
            "accounts.no_such_account", platform=Message.of(f"platform.{platform.value}")
        )
    if len(there) > 1:
        raise UserError(
            "accounts.which_account",
            disconnect=CommandRef("disconnect"),
            accounts=Literal(", ".join(identity.user_id for identity in there)),
            platform=Literal(platform.value),
        )
    return there[0]
