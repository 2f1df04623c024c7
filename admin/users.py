"""Members page: search, filters and paging; promote, demote, ban, unban; resend links; manual invite."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, request, url_for
from htmx_flask import request as htmx_request

from admin import bp
from admin.context import current_admin, current_tenant, login_required
from admin.handover import duplicates_context
from admin.member_forms import ActionForm, InviteForm, RoleForm, UserFilterForm
from admin.pages import redirect_after_post, render_form, render_page
from admin.row_actions import row_actions
from admin.verification import send_link
from models import Role, User
from services import accounts, directory, handover, offboarding, roles, verification
from services.errors import Conflict, DomainError, NotFound

YES_NO = {"yes": True, "no": False}


def _filters() -> tuple[UserFilterForm, directory.UserFilter, dict[str, str]]:
    """Read search and filters from the query string; unknown values mean "any", never an error."""
    args = request.args
    form = UserFilterForm(formdata=args)
    role = args.get("role", "")
    filters = directory.UserFilter(
        q=args.get("q", "")[:200].strip(),
        role=Role(int(role)) if role in {str(r.value) for r in Role} else None,
        scim=YES_NO.get(args.get("scim", "")),
        verified=YES_NO.get(args.get("verified", "")),
    )
    # The active filters, to carry into pager links and back after an action.
    active = {name: args[name] for name in ("q", "role", "scim", "verified") if args.get(name)}
    return form, filters, active


def _row_context(admin: User, user: User, super_admins: int, flagged: set[int] | None = None) -> dict:
    if flagged is None:
        flagged = offboarding.flagged(user.tenant_id, [user.id])
    return {
        "idp_deprovisioned": user.id in flagged,
        "can_adopt": handover.can_adopt(user),
        "user": user,
        "actions": row_actions(admin, user, super_admins),
        "purpose": verification.link_purpose(user),
    }


@bp.get("/users")
@login_required
def users_index():
    """List the tenant's users; htmx searches get only the results fragment."""
    tenant, admin = current_tenant(), current_admin()
    form, filters, active = _filters()
    page = directory.search_users(tenant.id, filters, request.args.get("page", 1, type=int))
    super_admins = roles.count_super_admins(tenant.id)
    flagged = offboarding.flagged(tenant.id, [user.id for user in page.items])  # one query for the page
    rows = [_row_context(admin, user, super_admins, flagged) for user in page.items]
    here = url_for("admin.users_index", **active, page=page.page if page.page > 1 else None)
    return render_page(
        "admin/users/index.html",
        "admin/users/_table.html",
        tenant=tenant,
        admin=admin,
        form=form,
        page=page,
        rows=rows,
        active=active,
        next_url=here,
        **duplicates_context(),
    )


def _safe_next(value: str | None) -> str:
    """Go back to a members-list URL only; anything else (another site, another page) falls back to the list."""
    home = url_for("admin.users_index")
    if value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and parts.path == home:
            return value
    return home


def _target(user_id: int) -> User:
    try:
        return accounts.get_user(current_tenant(), user_id)
    except NotFound:
        abort(404)


def _answer(user: User, form, *, message: str | None = None, error: str | None = None):
    """Answer a row action: the re-rendered row for htmx, a flash and a redirect for a plain form."""
    if htmx_request.htmx:
        admin = current_admin()
        context = _row_context(admin, user, roles.count_super_admins(user.tenant_id))
        return render_page(
            "admin/users/_row.html",
            **context,
            admin=admin,
            next_url=_safe_next(form.next.data),
            message=message,
            error=error,
        )
    return redirect_after_post(
        _safe_next(form.next.data),
        message=message and f"{user.label}: {message}",
        error=error and f"{user.label}: {error}",
    )


def _act(user_id: int, form, change):
    """Run one change on a user and answer it, turning a broken rule into a message, never a 500."""
    user = _target(user_id)
    if not form.validate_on_submit():
        return _answer(user, form, error="That choice is not available.")
    try:
        message = change(user)
    except DomainError as exc:
        return _answer(user, form, error=exc.message)
    return _answer(user, form, message=message)


@bp.post("/users/<id:user_id>/role")
@login_required
def users_role(user_id: int):
    """Promote or demote a user (R4: past member only with a verified email)."""
    form = RoleForm()

    def change(user: User) -> str:
        before = user.role
        roles.change_role(current_admin(), user, form.role.data)
        if user.role == before:
            return f"Role unchanged ({before.label})."
        verb = "Promoted" if user.role > before else "Demoted"
        return f"{verb} to {user.role.label}."

    return _act(user_id, form, change)


@bp.post("/users/<id:user_id>/ban")
@login_required
def users_ban(user_id: int):
    """Ban a local user."""

    def change(user: User) -> str:
        roles.ban(current_admin(), user)
        return "Banned."

    return _act(user_id, ActionForm(), change)


@bp.post("/users/<id:user_id>/unban")
@login_required
def users_unban(user_id: int):
    """Lift a local user's ban."""

    def change(user: User) -> str:
        roles.unban(current_admin(), user)
        return "Ban lifted: member again."

    return _act(user_id, ActionForm(), change)


@bp.post("/users/<id:user_id>/adopt")
@login_required
def users_adopt(user_id: int):
    """Hand a local member to the identity provider (userName = their email), keeping the account."""

    def change(user: User) -> str:
        handover.adopt(current_tenant(), user.id)
        return f"Handed to your identity provider as userName {user.email}."

    return _act(user_id, ActionForm(), change)


@bp.post("/users/<id:user_id>/resend")
@login_required
def users_resend(user_id: int):
    """Mail the user a fresh verification (or set-password) link."""

    def change(user: User) -> str:
        purpose = verification.link_purpose(user)
        if purpose is None:
            return "Nothing to send: the email is already verified."
        outbox = send_link(user, purpose, invited_by=current_admin())
        what = "Set-password link" if purpose == verification.SET_PASSWORD else "Verification link"
        return f"{what} sent to {user.email}." + (_OUTBOX_NOTE if outbox else "")

    return _act(user_id, ActionForm(), change)


_OUTBOX_NOTE = " Mail is not set up on this server, so it was saved to the server's mail outbox (see its log)."


@bp.route("/users/invite", methods=["GET", "POST"])
@login_required
def users_invite():
    """Invite someone as a local member and mail them a set-password link."""
    tenant, admin = current_tenant(), current_admin()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_local_user(
                tenant, form.email.data, Role.MEMBER, display_name=(form.display_name.data or "").strip() or None
            )
        except Conflict:
            form.email.errors.append("An account with this email already exists.")
        except DomainError as exc:
            form.email.errors.append(exc.message)
        else:
            members_page = url_for("admin.users_index")
            try:
                outbox = send_link(user, verification.SET_PASSWORD, invited_by=admin)
            except DomainError as exc:
                error = f"{user.email}: invited, but no mail was sent ({exc.message})."
                return redirect_after_post(members_page, error=error)
            message = f"Invitation sent to {user.email}." + (_OUTBOX_NOTE if outbox else "")
            return redirect_after_post(members_page, message=message)
    hours = current_app.config.get("VERIFY_LINK_HOURS") or 48
    return render_form("admin/users/invite.html", form, tenant=tenant, link_hours=hours)
