"""All configuration in one pydantic-settings class, read from TOML with IONIS_* env overrides."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.errors import SettingsError

DEFAULT_FILE = "settings.toml"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(_Section):
    mode: Literal["embedded", "server"] = "embedded"
    path: str = "data/ionis.chdb"
    host: str = "localhost"
    port: int = Field(8123, ge=1, le=65535)
    username: str = "default"
    password: str = ""
    secure: bool = False
    database: str = "wspr"
    table: str = "signatures_v2_terrestrial"
    connect_timeout: float = Field(5.0, gt=0, le=600)

    @field_validator("database", "table")
    @classmethod
    def _identifier(cls, v: str) -> str:
        # Identifiers cannot be bound as query parameters, so they must be safe to quote.
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a plain identifier (letters, digits, _)")
        return v

    @property
    def qualified_table(self) -> str:
        return f"`{self.database}`.`{self.table}`"


class TrainSettings(_Section):
    feature_set: Literal["v22", "v20"] = "v22"
    epochs: int = Field(30, ge=1, le=100_000)
    batch_size: int = Field(4096, ge=1, le=16_777_216)
    lr_trunk: float = Field(3e-4, gt=0, le=1)
    lr_scaler: float = Field(5e-4, gt=0, le=1)
    lr_sidecar: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(1e-5, ge=0, le=1)
    eta_min: float = Field(1e-6, ge=0, le=1)
    huber_delta: float = Field(1.0, gt=0)
    gate_var_lambda: float = Field(1e-3, ge=0)
    clamp_min: float = Field(0.5, ge=0)
    clamp_max: float = Field(2.0, gt=0)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    device: Literal["auto", "mps", "cuda", "cpu"] = "auto"
    limit_rows: int = Field(0, ge=0)
    progress_interval: float = Field(0.25, gt=0, le=60)

    @model_validator(mode="after")
    def _clamp_order(self) -> TrainSettings:
        if self.clamp_min >= self.clamp_max:
            raise ValueError(f"clamp_min ({self.clamp_min}) must be below clamp_max ({self.clamp_max})")
        return self


class DemoSettings(_Section):
    rows: int = Field(200_000, ge=1, le=100_000_000)
    seed: int = Field(7, ge=0)


class RunsSettings(_Section):
    dir: str = "runs"


_KEY = re.compile(r"^[A-Za-z0-9_+]+$")


class KeySettings(_Section):
    """The dashboard's keys (and help's), by action: a terminal or multiplexer that eats a
    key gets another. Names as Textual writes them: "s", "f5", "ctrl+t", "question_mark";
    several keys for one action are separated by commas."""

    start: str = "s"
    pause: str = "p"
    stop: str = "x"
    checkpoint: str = "c"
    runs: str = "r"
    verify: str = "v"
    matrix: str = "m"
    seed: str = "d"
    recheck: str = "g"
    quit: str = "q"
    help: str = "question_mark"

    @field_validator("*")
    @classmethod
    def _key_names(cls, v: str) -> str:
        keys = [k.strip() for k in v.split(",")]
        bad = [k for k in keys if not _KEY.match(k)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a key name (letters, digits, _ and +, e.g. \"f5\", "
                             "\"ctrl+t\", \"question_mark\"; commas between several)")
        return ",".join(keys)

    @model_validator(mode="after")
    def _one_action_per_key(self) -> KeySettings:
        owner: dict[str, str] = {}
        for action, keys in self.model_dump().items():
            for key in keys.split(","):
                if key in owner:
                    raise ValueError(f"key {key!r} is bound to both {owner[key]!r} and {action!r}")
                owner[key] = action
        return self


class Settings(BaseSettings):
    """Every setting of ionis-tui. Precedence: IONIS_* environment > settings file > defaults."""

    model_config = SettingsConfigDict(
        env_prefix="IONIS_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    database: DatabaseSettings = DatabaseSettings()
    train: TrainSettings = TrainSettings()
    demo: DemoSettings = DemoSettings()
    runs: RunsSettings = RunsSettings()
    keys: KeySettings = KeySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init kwargs; the environment must beat it.
        return (env_settings, init_settings)


def _describe(err: ValidationError, origin: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown key '{key}'")
        else:
            got = e.get("input")
            shown = f" (got {got!r})" if not isinstance(got, dict) else ""
            env = "IONIS_" + key.upper().replace(".", "__")
            lines.append(f"{origin}: {key}: {e['msg']}{shown} [file key '{key}' or env {env}]")
    return "\n".join(lines)


def resolve_config_path(path: str | os.PathLike | None) -> Path | None:
    """--config wins, then IONIS_CONFIG, then ./settings.toml if present; None means defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsError(f"settings file not found: {p}")
        return p
    env = os.environ.get("IONIS_CONFIG")
    if env:
        return resolve_config_path(env)
    p = Path(DEFAULT_FILE)
    return p if p.is_file() else None


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read settings; every problem becomes one SettingsError naming the key."""
    cfg = resolve_config_path(path)
    data: dict[str, Any] = {}
    origin = str(cfg) if cfg else "defaults"
    if cfg is not None:
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{cfg} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"cannot read {cfg}: {exc.strerror}") from None
        for section, value in data.items():
            if not isinstance(value, dict):
                raise SettingsError(f"{cfg}: '{section}' must be a [section] table, not a value")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origin + " / environment")) from None
