"""How a dashboard view answers: a page or its htmx fragment, the status of a form, a redirect after a change.

Every view renders through render_page, so the htmx contract (which requests get a fragment, history
restores, the Vary header, pages that must never be cached) is written once.
"""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template
from flask_wtf import FlaskForm
from htmx_flask import request as htmx_request

# A form with errors. base.html has htmx swap it in like a success, so the form shows its messages.
FORM_ERRORS = 422


def render_page(
    template: str, fragment: str | None = None, *, status: int = 200, private: bool = False, **context
) -> Response:
    """Render `template`, or only `fragment` when htmx asks for a partial swap.

    A boosted link or form wants the whole page, and so does a history restore: after hx-push-url the
    browser asks for the URL again with HX-Request, and the page it gets replaces the document.
    `private` marks a page whose URL holds a token (see private_page).
    """
    htmx = htmx_request.htmx
    partial = fragment is not None and htmx and not htmx.boosted and not htmx.history_restore_request
    response = make_response(render_template(fragment if partial else template, **context), status)
    if fragment is not None:
        # The same URL answers a fragment or a page: caches must keep them apart.
        response.vary.add("HX-Request")
    return private_page(response) if private else response


def private_page(response: Response) -> Response:
    """Mark a page whose URL holds a token: never cached, never sent to another site as a Referer."""
    response.headers["Cache-Control"] = "no-store"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts to our own origin.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def form_status(form: FlaskForm, on_errors: int = FORM_ERRORS) -> int:
    """Return the status of a page showing `form`: 200 while it has no errors, else `on_errors`.

    422 across the dashboard; the sign-in form and the sign-in link's page answer 400 (a refused
    password is 401 there, a paused account 429).
    """
    return on_errors if form.errors else 200


def render_form(template: str, form: FlaskForm, *, on_errors: int = FORM_ERRORS, **context) -> Response:
    """Render a page around `form`, with the status its errors call for (form_status)."""
    return render_page(template, form=form, status=form_status(form, on_errors), **context)


def shown_once(response: Response, address: str) -> Response:
    """Mark a page that shows a new secret this once: nothing stores it, and the address bar moves on.

    With htmx the browser's address becomes `address`, so a reload shows that page, not the secret again.
    """
    response.headers["Cache-Control"] = "no-store"
    response.headers["HX-Push-Url"] = address
    return response


def redirect_after_post(address: str, *, message: str | None = None, error: str | None = None) -> Response:
    """Answer a plain form's change: flash what happened and send the browser to `address` with a GET (303)."""
    if error:
        flash(error, "error")
    elif message:
        flash(message, "ok")
    return redirect(address, code=303)


def sentence(message: str) -> str:
    """Turn a domain error's message ("no such key") into a sentence for a page ("No such key.")."""
    return message[:1].upper() + message[1:] + "."
