"""Every setting querybase knows, declared once, with Metabase's keys, defaults, visibility and texts.

Computed settings (`version`, `has-user-setup`, `engines`, ...) have getters here; their inputs belong
to other modules, imported lazily so that this module stays importable on its own.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import exists, select

from querybase import METABASE_API_VERSION, __version__
from querybase.auth.passwords import current_requirements
from querybase.drivers import engines_json
from querybase.models.database import Database
from querybase.models.user import User
from querybase.settings.registry import Kind, Settings, Visibility, defsetting

A = Visibility.AUTHENTICATED
P = Visibility.PUBLIC
SM = Visibility.SETTINGS_MANAGER
AD = Visibility.ADMIN
IN = Visibility.INTERNAL


def _one_of(*allowed: str) -> Any:
    def check(value: Any) -> Any:
        lowered = str(value).lower()
        if lowered not in allowed:
            raise ValueError(f"Invalid value: {value!r}; must be one of {', '.join(allowed)}.")
        return lowered

    return check


# ---------------------------------------------------------------------------------------------------
# Instance and first-run setup

setup_token = defsetting(
    "setup-token",
    Kind.STRING,
    visibility=P,
    writable=False,
    read_from_env=False,
    # Metabase's plain-string docstrings keep their line breaks and indentation in GET /api/setting.
    description=(
        "A token used to signify that an instance has permissions to create the initial User. This is "
        "created upon the first\n  launch of Metabase, by the first instance; once used, it is cleared out, "
        "never to be used again.\n  Setter is none so users cannot overwrite or re-set the setup-token from "
        "the generated value"
    ),
)


def _has_user_setup(settings: Settings) -> bool:
    return bool(settings.db.scalar(select(exists().where(User.type == "personal"))))


has_user_setup = defsetting(
    "has-user-setup",
    Kind.BOOLEAN,
    visibility=P,
    getter=_has_user_setup,
    description="A value that is true iff the metabase instance has one or more users registered.",
)
site_name = defsetting(
    "site-name",
    Kind.STRING,
    default="Metabase",
    visibility=SM,
    description="The name used for this instance of Metabase.",
)


def _valid_site_url(value: str) -> str:
    url = value.removesuffix("/")
    if not url.startswith("http"):
        url = "http://" + url
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url):
        raise ValueError(f'Invalid site URL: "{value}"')
    return url


site_url = defsetting(
    "site-url",
    Kind.STRING,
    visibility=P,
    validate=_valid_site_url,
    description=(
        "This URL is used for things like creating links in emails, auth redirects, and in some embedding "
        "scenarios, so changing it could break functionality or get you locked out of this instance."
    ),
)
AVAILABLE_LOCALES = [["en", "English"]]
site_locale = defsetting(
    "site-locale",
    Kind.STRING,
    default="en",
    visibility=P,
    validate=lambda v: v if v in {code for code, _ in AVAILABLE_LOCALES} else _invalid_locale(v),
    description=(
        "The default language for all users across the Metabase UI, system emails, pulses, and alerts. "
        "Users can individually override this default language from their own account settings."
    ),
)


def _invalid_locale(value: str) -> str:
    raise ValueError(f'Invalid locale "{value}"')


site_uuid = defsetting(
    "site-uuid",
    Kind.STRING,
    visibility=A,
    writable=False,
    # Made when the server starts (`lifecycle.ensure_generated`).
    # A plain string in Metabase, so "{0}" is not replaced by the application name.
    description=(
        "Unique identifier used for this instance of {0}. This is set once and only once the first time it "
        "is fetched via\n  its magic getter. Nice!"
    ),
)
admin_email = defsetting(
    "admin-email",
    Kind.STRING,
    visibility=A,
    description="The email address users should be referred to if they encounter a problem.",
)
anon_tracking_enabled = defsetting(
    "anon-tracking-enabled",
    Kind.BOOLEAN,
    default=True,
    visibility=P,
    description="Enable the collection of anonymous usage data in order to help Metabase improve.",
)
# querybase sends no usage data anywhere; the setting exists because clients read and write it.
instance_creation = defsetting(
    "instance-creation",
    Kind.TIMESTAMP,
    visibility=P,
    writable=False,
    description="The approximate timestamp at which this instance of Metabase was created, for inclusion in "
    "analytics.",
)


def _version(_settings: Settings) -> dict[str, str]:
    return {"tag": METABASE_API_VERSION, "date": "2026-11-26", "branch": "querybase", "hash": __version__}


version = defsetting(
    "version",
    Kind.JSON,
    visibility=P,
    getter=_version,
    description="Metabase's version info",
)
startup_time_millis = defsetting(
    "startup-time-millis",
    Kind.DOUBLE,
    default=0.0,
    visibility=P,
    writable=False,
    description="The startup time in milliseconds",
)
available_locales = defsetting(
    "available-locales",
    Kind.JSON,
    visibility=P,
    getter=lambda _s: AVAILABLE_LOCALES,
    description="Available i18n locales",
)


def _timezones(_settings: Settings) -> list[str]:
    import zoneinfo

    return sorted(zoneinfo.available_timezones())


available_timezones = defsetting(
    "available-timezones",
    Kind.JSON,
    visibility=P,
    getter=_timezones,
    description="Available report timezone options",
)
application_name = defsetting(
    "application-name",
    Kind.STRING,
    default="Metabase",
    visibility=P,
    getter=lambda _s: "Metabase",
    description="Replace the word “Metabase” wherever it appears.",
)
report_timezone = defsetting(
    "report-timezone",
    Kind.STRING,
    visibility=SM,
    description="Connection timezone to use when executing queries. Defaults to system timezone.",
)
start_of_week = defsetting(
    "start-of-week",
    Kind.KEYWORD,
    default="sunday",
    visibility=P,
    validate=_one_of("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    description=(
        "This will affect things like grouping by week or filtering in GUI queries. It won't affect most SQL "
        "queries, although it is used to set the WEEK_START session variable in Snowflake."
    ),
)
custom_formatting = defsetting(
    "custom-formatting",
    Kind.JSON,
    default={},
    visibility=P,
    description="Object keyed by type, containing formatting settings",
)


password_complexity = defsetting(
    "password-complexity",
    Kind.JSON,
    visibility=P,
    getter=lambda _s: current_requirements(),
    description="Current password complexity requirements",
)
token_features = defsetting(
    "token-features",
    Kind.JSON,
    visibility=P,
    getter=lambda _s: {},
    description="Features registered for this instance's token",
)


def _engines(_settings: Settings) -> dict[str, Any]:
    return engines_json()


engines = defsetting(
    "engines",
    Kind.JSON,
    visibility=P,
    getter=_engines,
    description="Available database engines",
)
is_hosted = defsetting(
    "is-hosted?",
    Kind.BOOLEAN,
    visibility=P,
    getter=lambda _s: False,
    description="Is the Metabase instance running in the cloud?",
)
airgap_enabled = defsetting(
    "airgap-enabled",
    Kind.BOOLEAN,
    visibility=P,
    getter=lambda _s: False,
    description="Returns true if the current instance is airgapped.",
)
show_metabase_links = defsetting(
    "show-metabase-links",
    Kind.BOOLEAN,
    default=True,
    visibility=P,
    description="Whether or not to display Metabase links outside admin settings.",
)
loading_message = defsetting(
    "loading-message",
    Kind.KEYWORD,
    default="doing-science",
    visibility=P,
    validate=_one_of("doing-science", "running-query", "loading-results"),
    description='Choose the message to show while a query is running. Possible values are "doing-science", '
    '"running-query", or "loading-results"',
)
landing_page = defsetting(
    "landing-page",
    Kind.STRING,
    default="",
    visibility=P,
    description=(
        "Enter a URL of the landing page to show the user. This overrides the custom homepage setting above."
    ),
)
check_for_updates = defsetting(
    "check-for-updates",
    Kind.BOOLEAN,
    default=True,
    visibility=AD,
    description="Identify when new versions of Metabase are available.",
)
enable_xrays = defsetting(
    "enable-xrays",
    Kind.BOOLEAN,
    default=True,
    visibility=A,
    description="Allow users to explore data using X-rays",
)


def _nested_queries_enabled(settings: Settings) -> bool:
    """Since Metabase 0.55 only the environment can turn nested queries off; the API cannot."""
    return settings.environ.get("MB_ENABLE_NESTED_QUERIES", "").lower() != "false"


enable_nested_queries = defsetting(
    "enable-nested-queries",
    Kind.BOOLEAN,
    default=True,
    visibility=A,
    getter=_nested_queries_enabled,
    description="Allow using a saved question or Model as the source for other queries?",
)
enable_query_caching = defsetting(
    "enable-query-caching",
    Kind.BOOLEAN,
    default=True,
    visibility=A,
    description="Allow caching results of queries that take a long time to run.",
)
user_visibility = defsetting(
    "user-visibility",
    Kind.KEYWORD,
    default="all",
    visibility=A,
    validate=_one_of("all", "group", "none"),
    description="Note: Sandboxed users will never see suggestions.",
)
has_sample_database = defsetting(
    "has-sample-database?",
    Kind.BOOLEAN,
    visibility=A,
    getter=lambda s: bool(s.db.scalar(select(exists().where(Database.is_sample.is_(True))))),
    description="Whether this instance has a Sample Database database",
)

# ---------------------------------------------------------------------------------------------------
# Sessions and sign-in

enable_password_login = defsetting(
    "enable-password-login",
    Kind.BOOLEAN,
    default=True,
    visibility=P,
    description="Allow logging in by email and password.",
)
session_cookies = defsetting(
    "session-cookies",
    Kind.BOOLEAN,
    visibility=P,
    description=(
        "When set, enforces the use of session cookies for all users which expire when the browser is closed."
    ),
)
session_cookie_samesite = defsetting(
    "session-cookie-samesite",
    Kind.KEYWORD,
    default="lax",
    visibility=SM,
    validate=_one_of("lax", "none", "strict"),
    description="Value for the session cookie's `SameSite` directive.",
)
redirect_all_requests_to_https = defsetting(
    "redirect-all-requests-to-https",
    Kind.BOOLEAN,
    default=False,
    visibility=P,
    description="Force all traffic to use HTTPS via a redirect, if the site URL is HTTPS",
)
google_auth_enabled = defsetting(
    "google-auth-enabled",
    Kind.BOOLEAN,
    visibility=P,
    getter=lambda _s: False,
    description="Is Google Sign-in currently enabled?",
)
ldap_enabled = defsetting(
    "ldap-enabled",
    Kind.BOOLEAN,
    visibility=P,
    getter=lambda _s: False,
    description="Is LDAP currently enabled?",
)
reset_token_ttl_hours = defsetting(
    "reset-token-ttl-hours",
    Kind.INTEGER,
    default=48,
    visibility=IN,
    description="Number of hours a password reset is considered valid.",
)

# ---------------------------------------------------------------------------------------------------
# Public sharing

enable_public_sharing = defsetting(
    "enable-public-sharing",
    Kind.BOOLEAN,
    default=True,
    visibility=A,
    description="Enable admins to create publicly viewable links (and embeddable iframes) for Questions and "
    "Dashboards?",
)

# ---------------------------------------------------------------------------------------------------
# Embedding


def _hex_key(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ValueError(
            "Invalid embedding-secret-key! Secret key must be a hexadecimal-encoded 256-bit key (i.e., a "
            "64-character string)."
        )
    return value


embedding_secret_key = defsetting(
    "embedding-secret-key",
    Kind.STRING,
    visibility=AD,
    validate=_hex_key,
    description="Secret key used to sign JSON Web Tokens for requests to `/api/embed` endpoints.",
)


def new_embedding_secret_key() -> str:
    return secrets.token_hex(32)


enable_embedding = defsetting(
    "enable-embedding",
    Kind.BOOLEAN,
    default=False,
    visibility=A,
    description="Allow admins to securely embed questions and dashboards within other applications?",
)
enable_embedding_static = defsetting(
    "enable-embedding-static",
    Kind.BOOLEAN,
    default=False,
    visibility=A,
    description="Allow admins to embed Metabase via static embedding?",
)
enable_embedding_interactive = defsetting(
    "enable-embedding-interactive",
    Kind.BOOLEAN,
    default=False,
    visibility=A,
    description="Allow admins to embed Metabase via interactive embedding?",
)
enable_embedding_sdk = defsetting(
    "enable-embedding-sdk",
    Kind.BOOLEAN,
    default=False,
    visibility=A,
    description="Allow admins to embed Metabase via the SDK?",
)
embedding_app_origins_interactive = defsetting(
    "embedding-app-origins-interactive",
    Kind.STRING,
    visibility=P,
    description="Allow these space delimited origins to embed Metabase interactive.",
)
embedding_app_origins_sdk = defsetting(
    "embedding-app-origins-sdk",
    Kind.STRING,
    default="localhost:*",
    visibility=P,
    description="Allow Metabase SDK access to these space delimited origins.",
)

# ---------------------------------------------------------------------------------------------------
# Email

email_smtp_host = defsetting(
    "email-smtp-host",
    Kind.STRING,
    visibility=SM,
    description="The address of the SMTP server that handles your emails.",
)
email_smtp_port = defsetting(
    "email-smtp-port",
    Kind.INTEGER,
    visibility=SM,
    description="The port your SMTP server uses for outgoing emails.",
)
email_smtp_security = defsetting(
    "email-smtp-security",
    Kind.KEYWORD,
    default="none",
    visibility=SM,
    validate=_one_of("tls", "ssl", "none", "starttls"),
    description="SMTP secure connection protocol. (tls, ssl, starttls, or none)",
)
email_smtp_username = defsetting(
    "email-smtp-username",
    Kind.STRING,
    visibility=SM,
    description="SMTP username.",
)
email_smtp_password = defsetting(
    "email-smtp-password",
    Kind.STRING,
    visibility=SM,
    sensitive=True,
    description="SMTP password.",
)
email_from_address = defsetting(
    "email-from-address",
    Kind.STRING,
    default="notifications@metabase.com",
    visibility=SM,
    description="The email address you want to use for the sender of emails.",
)


def _email_from_name(value: str) -> str:
    if any(c in value for c in '()<>[]:;@\\,."'):
        raise ValueError("Invalid special character included.")
    return value


email_from_name = defsetting(
    "email-from-name",
    Kind.STRING,
    visibility=SM,
    validate=_email_from_name,
    description="The name you want to use for the sender of emails.",
)
email_reply_to = defsetting(
    "email-reply-to",
    Kind.JSON,
    visibility=SM,
    description="The email address you want the replies to go to, if different from the from address.",
)
bcc_enabled = defsetting(
    "bcc-enabled?",
    Kind.BOOLEAN,
    default=True,
    visibility=SM,
    description="Whether or not bcc emails are enabled, default behavior is that it is",
)
email_configured = defsetting(
    "email-configured?",
    Kind.BOOLEAN,
    visibility=P,
    getter=lambda s: bool(s.get("email-smtp-host")),
    description="Check if email is enabled and that the mandatory settings are configured.",
)
