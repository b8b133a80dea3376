"""The OP's URLs: the toolkit under /o/ (so the issuer is https://localhost:<port>/o), and
Django's own login page, which the toolkit's authorization endpoint sends a signed-out
user to.

With DOT_OP_DISCOVERY=full the OIDC discovery document also names the revocation and
introspection endpoints: the toolkit lists them only in its RFC 8414 document
(/.well-known/oauth-authorization-server), not in /o/.well-known/openid-configuration,
where an OpenID Connect RP looks. A deployer who wants RPs to find them adds them so.
"""

import json
import os

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from oauth2_provider import urls as dot_urls
from oauth2_provider.views import ConnectDiscoveryInfoView


class FullDiscovery(ConnectDiscoveryInfoView):
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["introspection_endpoint"] = self._get_endpoint_url(request, "introspect", required=True)
        data["revocation_endpoint_auth_methods_supported"] = data["token_endpoint_auth_methods_supported"]
        data["introspection_endpoint_auth_methods_supported"] = data["token_endpoint_auth_methods_supported"]
        response.content = json.dumps(data)
        return response


oidc = []
if os.environ.get("DOT_OP_DISCOVERY") == "full":
    oidc = [
        re_path(
            r"^o/\.well-known/openid-configuration/?$",
            FullDiscovery.as_view(),
            name="oidc-connect-discovery-info",
        )
    ]

urlpatterns = oidc + [
    path("o/", include(dot_urls)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
]
