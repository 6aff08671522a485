from __future__ import annotations

from django.conf import settings
from django.db import models


class SsoIdentity(models.Model):
    """The Rampart account of one person at the single sign-on provider.

    Matched by the provider's stable subject, never by email: an identity provider that lets
    people choose their address would otherwise let one of them take over a local account.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer or 'the provider'}"
