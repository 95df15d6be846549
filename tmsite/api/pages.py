"""The "API keys" account page: create (the secret is shown once) and revoke your keys."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import ValidationError

from tmsite.api import selectors, services


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=50, label="Name", help_text="what the key is for, e.g. 'trading bot'")


@login_required
@require_http_methods(["GET", "POST"])
def api_keys_page(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = services.api_key_create(user=request.user, name=form.cleaned_data["name"])  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error("name", "; ".join(str(m) for m in exc.detail.get("name", [exc.detail])))
        else:
            created = {"key": key, "secret": secret}
            form = ApiKeyForm()
    context = {
        "form": form,
        "created": created,
        "keys": selectors.api_keys_of(user=request.user),  # type: ignore[arg-type]
        "nav": "api-keys",
    }
    # The secret is rendered into this one answer only; it is never stored in clear.
    response = render(request, "api/api_keys.html", context, status=201 if created else 200)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    key = selectors.api_key_get_for_user(prefix=prefix, user=request.user)  # type: ignore[arg-type]
    services.api_key_revoke(key=key)
    messages.success(request, f"API key {key.name!r} ({key.prefix}) revoked.")
    return redirect("publicapi:api_keys_page")
