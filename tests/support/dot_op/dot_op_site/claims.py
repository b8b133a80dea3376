"""The user's claims in the ID token and at userinfo: what a deployer adds, since the
toolkit's own validator gives only `sub` (the user's primary key)."""

from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    # The toolkit keeps a claim only when its scope (oidc_claim_scope) was granted.
    def get_additional_claims(self, request):
        user = request.user
        return {
            "name": user.get_full_name(),
            "given_name": user.first_name,
            "family_name": user.last_name,
            "preferred_username": user.get_username(),
            "email": user.email,
            "email_verified": True,
        }
