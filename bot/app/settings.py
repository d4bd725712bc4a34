"""Typed settings from BANTIN_* environment variables and an optional .env file.

Validated once at start by the composition root; a wrong value produces one line per problem
naming the variable, never a traceback (see `settings_errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.app import aio

if TYPE_CHECKING:
    from jobs.cases.worktime import Calendar

PREFIX = "BANTIN_"
FREE_RATE_LIMIT = 30  # messages/s Telegram allows a bot without paid broadcast


def _split_csv(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///bantin.db"
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    poll_interval: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    send_rate: float = Field(default=25.0, ge=0, le=1000)  # 0: no overall limit (paid only)
    paid_broadcast: bool = False
    # How long a claimed outbox row stays reserved for its sender; after a crash the rows come
    # back this long after the claim.
    lease_seconds: int = Field(default=60, ge=5, le=3600)
    # The most sends in flight at once (and the most a crash can repeat); below it the number
    # follows rate × round trip (jobs/send/pacing.py: InFlight).
    send_concurrency: int = Field(default=200, ge=1, le=512)
    backlog_limit: int = Field(default=1, ge=0, le=100)
    summary_chars: int = Field(default=400, ge=80, le=3000)
    # Politeness towards portals: whatever a feed asks for (Cache-Control max-age, Retry-After,
    # RSS <ttl>) and whatever the backoff says, one feed is polled at most every
    # poll_min_interval and at least every poll_max_interval seconds.
    poll_min_interval: int = Field(default=60, ge=1, le=7 * 24 * 3600)
    poll_max_interval: int = Field(default=86400, ge=60, le=30 * 24 * 3600)
    poll_concurrency: int = Field(default=50, ge=1, le=1000)  # feeds in flight at once
    poll_per_host: int = Field(default=4, ge=1, le=100)  # of those, at most this many per host
    # 10 MB: feeds of ~20 items are 10-100 KB; the cap only stops the absurd,
    # and the parse deadline (below) bounds what a hostile body under the cap can cost.
    feed_max_bytes: int = Field(default=10_000_000, ge=10_000, le=200_000_000)
    feed_parse_timeout: float = Field(default=20.0, gt=0, le=600)
    feed_alert_after: int = Field(default=5, ge=1, le=1000)  # failures in a row before staff hear
    # Hosts besides a feed's own that its items' article pages may be fetched from ("host",
    # "host:port", "*.domain"): items come from outside, so their links are not trusted.
    article_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Loopback or private hosts feeds and article pages may be fetched from ("host",
    # "host:port", "*.domain", "10.0.0.5", "10.1.0.0/16"); every other non-public address is
    # refused, for the first request and every redirect (jobs/ingest/address_guard.py).
    allow_private_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Citizens' feedback: at most COUNT messages per SECONDS, written "COUNT/SECONDS".
    feedback_rate_limit: Annotated[tuple[int, int], NoDecode] = (5, 600)
    log_level: str = "INFO"
    log_format: str = "console"  # "console" (key=value lines) or "json"
    event_loop: str = "auto"  # "auto" (uvloop where installed), "uvloop" or "asyncio"
    # Port of /healthz and /metrics for processes without BANTIN_LISTEN (scheduler, worker).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Retention, in days (0 keeps forever): final outbox rows (sent, cancelled, blocked, dead)
    # and articles no feed still lists and nothing still needs (jobs/ops/retention.py).
    retention_delivered_days: int = Field(default=30, ge=0, le=36500)
    retention_article_days: int = Field(default=180, ge=0, le=36500)
    # Zalo Bot Platform (Telegram-like; polling unless a webhook URL is set).
    zalo_bot_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_webhook_secret: SecretStr | None = None  # X-Bot-Api-Secret-Token, 8-256 characters
    zalo_webhook_url: str | None = None  # public https URL of this server's /zalo/bot
    zalo_webhook_listen: str | None = None  # "host:port" our webhook server binds (bot and OA)
    zalo_staff_chat_id: str | None = None  # a Zalo chat where feedback lands
    zalo_admin_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Zalo Official Account API v3. The tokens here only seed the database: once a refresh has
    # rotated them, the stored pair wins (a changed BANTIN_ZALO_OA_REFRESH_TOKEN re-seeds).
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: SecretStr | None = None  # the app's secret key (token refresh header)
    zalo_oa_webhook_secret: SecretStr | None = None  # the OA secret key (X-ZEvent-Signature)
    zalo_oa_access_token: SecretStr | None = None
    zalo_oa_refresh_token: SecretStr | None = None
    zalo_oa_api_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_url: str = "https://oauth.zaloapp.com"
    # Seconds a signed OA event may be old when it arrives (older ones are refused, so a
    # captured event cannot be replayed later); at most a day, well inside the 30 days that
    # handled event ids are kept (storage/zalo.py SEEN_KEEP), so every replay the window lets
    # through is recognised as a repeat.
    zalo_oa_event_max_age: int = Field(default=600, ge=30, le=86400)
    # Quiet hours of subscribers who have not chosen their own ("HH:MM-HH:MM" in
    # Asia/Ho_Chi_Minh, or "off"): pushes made inside them wait until the window ends.
    quiet_hours: str = "22:00-06:00"
    digest_check_interval: float = Field(default=60.0, ge=5, le=3600)  # seconds
    bot_username: str | None = None  # for invitation links when getMe is not at hand (bantin qr)
    # The split processes (`bantin serve|scheduler|worker`).
    listen: str = "0.0.0.0:8080"  # where `bantin serve` binds: webhooks, /healthz, /metrics
    # The staff web console (/admin on BANTIN_LISTEN; console mode: on 127.0.0.1): the address
    # staff reach it at (e.g. https://bantin.example.gov.vn behind the office's https proxy);
    # sign-in links are built on it, else on BANTIN_LISTEN. https makes the cookie Secure.
    public_url: str | None = None
    web_console: bool = True
    telegram_webhook_url: str | None = None  # public https URL that reaches serve's /telegram
    telegram_webhook_secret: SecretStr | None = None  # X-Telegram-Bot-Api-Secret-Token
    leader_retry: float = Field(default=5.0, ge=0.5, le=60)  # standby scheduler's retry, s
    heartbeat_max_age: float = Field(default=120.0, ge=5, le=86400)  # /healthz: scheduler
    outbox_max_lag: float = Field(default=900.0, ge=5, le=7 * 86400)  # /healthz: oldest due row
    # Cases (#15): the working calendar deadlines run on (Asia/Ho_Chi_Minh, Monday-Friday).
    # Working periods of a day, "HH:MM-HH:MM,HH:MM-HH:MM" (jobs/cases/worktime.py).
    work_hours: str = "07:30-11:30,13:00-17:00"
    # Holidays: file paths (one YYYY-MM-DD a line, "+YYYY-MM-DD" a make-up working day, "#"
    # comments) and/or dates, comma-separated; unset: bot/data/holidays_vn.txt; "none": none.
    holidays: str | None = None
    # Working hours before a case's due time when its unit's chat is reminded (0: never).
    case_remind_before: float = Field(default=8.0, ge=0, le=24 * 30)
    case_check_interval: float = Field(default=300.0, ge=10, le=86400)  # the deadline job, s
    default_unit_name: str = Field(default="Bộ phận một cửa", min_length=1, max_length=100)
    case_max_photos: int = Field(default=3, ge=0, le=10)  # photos a citizen attaches to a case

    # Media (#15): citizens' photos, downloaded from the platform, re-encoded without EXIF and
    # kept in a folder (unset: "media" next to the SQLite file, else ./media) or, with
    # BANTIN_MEDIA_S3_URL, in an S3-compatible bucket (needs `pip install 'bantin[s3]'`).
    media_dir: str | None = None
    media_max_bytes: int = Field(default=10_000_000, ge=10_000, le=50_000_000)
    media_max_pixels: int = Field(default=50_000_000, ge=10_000, le=200_000_000)
    media_fetch_attempts: int = Field(default=5, ge=1, le=50)  # then the photo is marked failed
    media_s3_url: str | None = None  # the S3 endpoint, e.g. https://s3.example.vn
    media_s3_bucket: str | None = None
    media_s3_region: str = "us-east-1"
    media_s3_prefix: str = "bantin/"
    media_s3_access_key: SecretStr | None = None
    media_s3_secret_key: SecretStr | None = None
    # The bucket's endpoint is reachable from the internet: Zalo Bot recipients (no upload API)
    # get another platform's photo as a link valid for an hour instead of a note.
    media_public_links: bool = False
    # Hosts Zalo photo URLs may be downloaded from ("*.domain", "host", "host:port").
    zalo_photo_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*.zdn.vn", "*.zadn.vn", "*.zalo.me", "*.zaloapp.com"]
    )
    # Photos of cases closed this many days ago are deleted (0 keeps them).
    retention_photo_days: int = Field(default=365, ge=0, le=36500)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> list[int]:
        out: list[int] = []
        for part in _split_csv(value):
            try:
                out.append(int(part))
            except ValueError:
                raise ValueError(f"'{part}' is not a numeric Telegram user id") from None
        return out

    @field_validator("feeds", mode="before")
    @classmethod
    def _feeds(cls, value: object) -> list[str]:
        urls = _split_csv(value)
        for url in urls:
            if not url.startswith(("http://", "https://", "file://")):
                raise ValueError(f"'{url}' is not an http(s):// or file:// URL")
        return urls

    @field_validator("article_hosts", mode="before")
    @classmethod
    def _article_hosts(cls, value: object) -> list[str]:
        hosts = _split_csv(value)
        for host in hosts:
            if "/" in host.split("://", 1)[-1] or " " in host:
                raise ValueError(
                    f"'{host}' is not a host name (examples: cdn.example.vn, *.gov.vn)"
                )
        return hosts

    @field_validator("allow_private_hosts", mode="before")
    @classmethod
    def _allow_private_hosts(cls, value: object) -> list[str]:
        from jobs.ingest.address_guard import parse_entry

        hosts = _split_csv(value)
        for host in hosts:
            try:
                parse_entry(host)
            except ValueError:
                raise ValueError(
                    f"'{host}' is not a host name or address "
                    "(examples: intranet.example.gov.vn, *.noi-bo.vn, 10.0.0.5, 10.1.0.0/16)"
                ) from None
        return hosts

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("telegram_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and ":" not in value:
            raise ValueError("does not look like a bot token (expected '<digits>:<secret>')")
        return value

    @field_validator("zalo_admin_ids", mode="before")
    @classmethod
    def _zalo_admin_ids(cls, value: object) -> list[str]:
        return _split_csv(value)  # Zalo ids are opaque strings (e.g. "e4ea2cd5189df1c3a88c")

    @field_validator("zalo_api_url", "zalo_oa_api_url", "zalo_oa_oauth_url")
    @classmethod
    def _zalo_urls(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator(
        "zalo_bot_token",
        "zalo_webhook_secret",
        "zalo_oa_secret_key",
        "zalo_oa_webhook_secret",
        "zalo_oa_access_token",
        "zalo_oa_refresh_token",
        "zalo_staff_chat_id",
        "zalo_oa_app_id",
        "zalo_webhook_url",
        "zalo_webhook_listen",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not str(value).strip().startswith(("http://", "https://")):
            raise ValueError(
                "must start with https:// (or http://), e.g. https://bantin.example.vn"
            )
        return str(value).strip().rstrip("/")

    @field_validator("zalo_webhook_listen", "listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected host:port, e.g. 0.0.0.0:8443")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        from jobs.route.digest import parse_quiet

        parsed = parse_quiet(value)
        if parsed is None:
            raise ValueError("expected HH:MM-HH:MM (e.g. 22:00-06:00) or off")
        return parsed

    @field_validator("feedback_rate_limit", mode="before")
    @classmethod
    def _feedback_rate(cls, value: object) -> object:
        if isinstance(value, str):
            count, _, seconds = value.partition("/")
            try:
                parsed = (int(count), int(seconds))
            except ValueError:
                raise ValueError("write it as COUNT/SECONDS, e.g. 5/600") from None
            if parsed[0] < 1 or parsed[1] < 1:
                raise ValueError("both numbers must be at least 1")
            return parsed
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in ("console", "json"):
            raise ValueError("must be console or json")
        return value.lower()

    @field_validator("event_loop")
    @classmethod
    def _event_loop(cls, value: str) -> str:
        value = value.lower()
        if value not in aio.CHOICES:
            raise ValueError("must be auto, uvloop or asyncio")
        if value == "uvloop" and not aio.uvloop_available():
            raise ValueError("uvloop is not installed (pip install uvloop), or use auto")
        return value

    @field_validator("work_hours")
    @classmethod
    def _work_hours(cls, value: str) -> str:
        from jobs.cases.worktime import format_hours, parse_work_hours

        return format_hours(parse_work_hours(value))  # ValueError names the bad period

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str | None) -> str | None:
        from jobs.cases.worktime import load_holidays

        load_holidays(value)  # a missing file or a bad date stops the start with its line
        return value

    def work_calendar(self) -> Calendar:
        """The working calendar of cases (hours and holidays checked when settings loaded)."""
        from jobs.cases.worktime import Calendar

        return Calendar.from_settings(self.work_hours, self.holidays)

    @field_validator(
        "media_dir",
        "media_s3_url",
        "media_s3_bucket",
        "media_s3_access_key",
        "media_s3_secret_key",
        mode="before",
    )
    @classmethod
    def _media_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("zalo_photo_hosts", mode="before")
    @classmethod
    def _zalo_photo_hosts(cls, value: object) -> list[str]:
        from jobs.ingest.address_guard import parse_entry

        hosts = _split_csv(value)
        for host in hosts:
            try:
                parse_entry(host)
            except ValueError:
                raise ValueError(f"'{host}' is not a host name (examples: *.zdn.vn)") from None
        return hosts

    @model_validator(mode="after")
    def _media_s3(self) -> Settings:
        if self.media_s3_url is None:
            return self
        if not self.media_s3_url.startswith(("http://", "https://")):
            raise ValueError("BANTIN_MEDIA_S3_URL must start with http:// or https://")
        if not self.media_s3_bucket:
            raise ValueError("BANTIN_MEDIA_S3_URL needs BANTIN_MEDIA_S3_BUCKET")
        if (self.media_s3_access_key is None) != (self.media_s3_secret_key is None):
            raise ValueError(
                "BANTIN_MEDIA_S3_ACCESS_KEY and BANTIN_MEDIA_S3_SECRET_KEY go together "
                "(or neither, to use the server's own credentials)"
            )
        from jobs.media.store import S3_MISSING, s3_available

        if not s3_available():
            raise ValueError(S3_MISSING)
        return self

    def secrets(self) -> list[str]:
        """Every secret setting's value, for the log scrubber (tokens, webhook secrets, keys)."""
        out = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return out

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _paid_rate(self) -> Settings:
        if self.send_rate == 0 and not self.paid_broadcast:
            raise ValueError(
                "BANTIN_SEND_RATE 0 (no overall limit) needs BANTIN_PAID_BROADCAST=true: "
                f"Telegram's free limit is about {FREE_RATE_LIMIT} messages/s"
            )
        if self.send_rate > FREE_RATE_LIMIT and not self.paid_broadcast:
            raise ValueError(
                f"BANTIN_SEND_RATE {self.send_rate:g} is above Telegram's free limit of about "
                f"{FREE_RATE_LIMIT} messages/s; set BANTIN_PAID_BROADCAST=true to send faster "
                "(paid broadcast, up to 1000/s, billed in Telegram Stars)"
            )
        return self

    @model_validator(mode="after")
    def _poll_bounds(self) -> Settings:
        if self.poll_min_interval > self.poll_max_interval:
            raise ValueError(
                f"BANTIN_POLL_MIN_INTERVAL ({self.poll_min_interval}) is larger than "
                f"BANTIN_POLL_MAX_INTERVAL ({self.poll_max_interval})"
            )
        return self

    @model_validator(mode="after")
    def _zalo_pairs(self) -> Settings:
        secret = self.zalo_webhook_secret
        if secret is not None and not 8 <= len(secret.get_secret_value()) <= 256:
            raise ValueError("BANTIN_ZALO_WEBHOOK_SECRET must be 8 to 256 characters long")
        if self.zalo_webhook_url and (secret is None or not self.zalo_webhook_listen):
            raise ValueError(
                "BANTIN_ZALO_WEBHOOK_URL needs BANTIN_ZALO_WEBHOOK_SECRET and "
                "BANTIN_ZALO_WEBHOOK_LISTEN (the address this server listens on)"
            )
        tg_secret = self.telegram_webhook_secret
        if tg_secret is not None:
            if not valid_webhook_secret(tg_secret.get_secret_value()):
                raise ValueError(
                    "BANTIN_TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of "
                    "A-Z, a-z, 0-9, _ and -"
                )
        if self.telegram_webhook_url:
            if tg_secret is None:
                raise ValueError(
                    "BANTIN_TELEGRAM_WEBHOOK_URL needs BANTIN_TELEGRAM_WEBHOOK_SECRET "
                    "(Telegram sends it with every update; others are refused)"
                )
            if not self.telegram_webhook_url.startswith(("https://", "http://")):
                raise ValueError("BANTIN_TELEGRAM_WEBHOOK_URL must be an https:// URL")
        oa = [self.zalo_oa_app_id, self.zalo_oa_secret_key, self.zalo_oa_refresh_token]
        if any(v is not None for v in oa) and not all(v is not None for v in oa):
            raise ValueError(
                "the Zalo Official Account needs BANTIN_ZALO_OA_APP_ID, "
                "BANTIN_ZALO_OA_SECRET_KEY and BANTIN_ZALO_OA_REFRESH_TOKEN together"
            )
        return self

    @property
    def zalo_oa_enabled(self) -> bool:
        return self.zalo_oa_app_id is not None and self.zalo_oa_refresh_token is not None

    @property
    def console_mode(self) -> bool:
        """No platform configured: the console demo runs instead."""
        return (
            self.telegram_token is None and self.zalo_bot_token is None and not self.zalo_oa_enabled
        )


def valid_webhook_secret(secret: str) -> bool:
    """Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - as a webhook secret."""
    return 1 <= len(secret) <= 256 and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in secret
    )


class SettingsError(Exception):
    """Settings could not be loaded; `lines` has one human message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def settings_errors(err: ValidationError) -> list[str]:
    lines = []
    for problem in err.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:  # a check across fields names its variables itself
            lines.append(message)
            continue
        field = str(problem["loc"][0])
        given = problem.get("input")
        shown = "" if isinstance(given, dict) or given is None else f" (got {given!r})"
        if field.endswith(("token", "secret", "secret_key")):
            shown = ""  # never echo a secret, not even a wrong one
        lines.append(f"{PREFIX}{field.upper()}: {message}{shown}")
    return lines


def load_settings(**overrides: object) -> Settings:
    """Load and validate; raises SettingsError with readable lines."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(settings_errors(err)) from None
