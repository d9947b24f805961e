"""All configuration in one pydantic-settings class, read from TOML with IONIS_* env overrides."""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from engine import locations
from engine.errors import SettingsError
from engine.limits import MAX_DEMO_ROWS, MAX_EPOCHS

DEFAULT_FILE = "settings.toml"
# The TOML file the next Settings() reads (set by load_settings); None reads no file.
_TOML_FILE: ContextVar[Path | None] = ContextVar("ionis_settings_file", default=None)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# The tool's own tables (fallback staging names, scratch databases) live under this prefix; the
# signature table may not take such a name, or `data seed` would overwrite them.
RESERVED_TABLE_PREFIX = "ionis_"
# Values never shown in an error message (a wrong type would otherwise be echoed back).
SECRET_KEYS = frozenset({"database.password"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(_Section):
    mode: Literal["embedded", "server"] = "embedded"
    path: str = Field("", validate_default=True)  # "" = ionis.chdb in the user data folder
    host: str = "localhost"
    port: int = Field(8123, ge=1, le=65535)
    username: str = "default"
    password: str = Field("", repr=False)  # repr=False: never in a traceback's locals
    secure: bool = False
    database: str = "wspr"
    table: str = "signatures_v2_terrestrial"
    connect_timeout: float = Field(5.0, gt=0, le=600)
    # Longest wait for any answer from the server (a query, a read of its result): a server
    # that accepts and then says nothing, or drips bytes, ends in an error, not a hang.
    query_timeout: float = Field(60.0, gt=0, le=86_400)

    @field_validator("path")
    @classmethod
    def _default_path(cls, v: str) -> str:
        return v or locations.default_db_path()

    @field_validator("database", "table")
    @classmethod
    def _identifier(cls, v: str) -> str:
        # Identifiers cannot be bound as query parameters, so they must be safe to quote.
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a plain identifier (letters, digits, _)")
        return v

    @field_validator("table")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v.lower().startswith(RESERVED_TABLE_PREFIX):
            raise ValueError(f"{v!r} is reserved: names starting with {RESERVED_TABLE_PREFIX!r} "
                             f"are the tool's own tables; choose another table name")
        return v

    @property
    def qualified_table(self) -> str:
        return f"`{self.database}`.`{self.table}`"


class ExperimentalSettings(_Section):
    """[train.experimental]: the knobs of the recipe experiments (issue 10's ablation, README
    docs). The defaults ARE the recipe (row Z2); change one only to rerun an ablation row. Each
    non-default path has a test (tests/test_recipe_experimental.py)."""

    lr_sun_scaler: float = Field(1e-3, gt=0, le=1)      # sun gate head (storm: train.lr_storm_scaler)
    sidecar_init_weight: float = Field(0.65, gt=0)      # storm sidecar weights start at this * U(0.9, 1.1)
    sun_sidecar_init_weight: float = Field(0.8, gt=0)   # sun sidecar weights start at this * U(0.9, 1.1)
    sun_gate_within_cell: bool = True   # the sun gate learns from SFI changes inside a cell only
    # Training weight of rows at Kp >= 3. 1 = off, the recipe: upsampling storm rows (rows E5,
    # E12, J, S2) moved no effect toward the truth. Kept to rerun those rows.
    storm_weight: float = Field(1.0, gt=0)
    censor_spread_db: float = Field(8.5, ge=0, le=30)   # per-spot spread for the floor-aware loss; 0 = off
    censor_floor_db: float = Field(-28.0, ge=-60, le=0)  # decode floor the loss accounts for


# Old [train] keys still read (older settings files and every earlier run's settings.json):
# renamed keys, and the experiment knobs that now live in [train.experimental].
RENAMED_TRAIN_KEYS = {"lr_scaler": "lr_storm_scaler"}
MOVED_TO_EXPERIMENTAL = tuple(ExperimentalSettings.model_fields)


class TrainSettings(_Section):
    feature_set: Literal["v22", "v20"] = "v22"
    epochs: int = Field(30, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(4096, ge=1, le=16_777_216)
    lr_trunk: float = Field(3e-4, gt=0, le=1)
    lr_storm_scaler: float = Field(1e-4, gt=0, le=1)  # the storm gate head only (was lr_scaler)
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
    experimental: ExperimentalSettings = Field(default_factory=ExperimentalSettings)

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        """lr_scaler -> lr_storm_scaler, and the experiment knobs once in [train] ->
        [train.experimental], so old settings files and old runs' settings.json still load."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in RENAMED_TRAIN_KEYS.items():
            if old in data:
                if new in data:
                    raise ValueError(f"'{old}' is the old name of '{new}': give only '{new}'")
                data[new] = data.pop(old)
        moved = {k: data.pop(k) for k in MOVED_TO_EXPERIMENTAL if k in data}
        if moved:
            exp = data.get("experimental", {})
            exp = exp.model_dump() if isinstance(exp, ExperimentalSettings) else dict(exp)
            both = sorted(k for k in moved if k in exp and exp[k] != moved[k])
            if both:
                raise ValueError(f"'{both[0]}' is set both in [train] (its old place) and in "
                                 f"[train.experimental]: keep only the [train.experimental] one")
            data["experimental"] = {**exp, **moved}
        return data

    @model_validator(mode="after")
    def _clamp_order(self) -> TrainSettings:
        if self.clamp_min >= self.clamp_max:
            raise ValueError(f"clamp_min ({self.clamp_min}) must be below clamp_max ({self.clamp_max})")
        # The cosine schedule falls from each learning rate to eta_min; a floor above a rate
        # would make that rate climb instead.
        low = min(self.lr_trunk, self.lr_storm_scaler, self.experimental.lr_sun_scaler, self.lr_sidecar)
        if self.eta_min >= low:
            raise ValueError(f"eta_min ({self.eta_min:g}) must be below every learning rate "
                             f"(lowest is {low:g})")
        return self


class DemoSettings(_Section):
    rows: int = Field(200_000, ge=1, le=MAX_DEMO_ROWS)
    seed: int = Field(7, ge=0)


class RunsSettings(_Section):
    dir: str = Field("", validate_default=True)  # "" = runs/ in the user data folder
    # A live trainer that makes no progress for longer than this is shown as stalled.
    stall_after_s: float = Field(60.0, ge=1, le=86400)

    @field_validator("dir")
    @classmethod
    def _default_dir(cls, v: str) -> str:
        return v or locations.default_runs_dir()


class IngestSettings(_Section):
    spots_table: str = "spots"
    sw_table: str = "space_weather"
    max_bad_share: float = Field(0.01, ge=0, le=1)
    min_spots: int = Field(5, ge=1, le=1_000_000)

    @field_validator("spots_table", "sw_table")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} is not a plain identifier (letters, digits, _)")
        return v


class EvaluateSettings(_Section):
    """Real observations for `ionis-tui evaluate` and the verify suite's skill group."""

    spots: str = ""              # spot file, any format `data ingest` reads; "" = none
    table: str = ""              # spots or signature table (in [database]) instead; "" = none
    climatology_table: str = ""  # training table for baselines b/c; "" = database.table
    min_band_rows: int = Field(100, ge=1)  # rows a skill needs, overall and per band


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
    """Every setting of ionis-tui. Precedence: constructor arguments > IONIS_* environment >
    settings file > defaults. A section object passed in is kept whole, so a saved recipe
    (Settings(**saved)) cannot be rewritten by the shell."""

    model_config = SettingsConfigDict(
        env_prefix="IONIS_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    # Factories, not instances: the default paths depend on the environment at load time.
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    runs: RunsSettings = Field(default_factory=RunsSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    _file: Path | None = PrivateAttr(default=None)  # the settings file read, if any

    @property
    def source_file(self) -> Path | None:
        return self._file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TOML_FILE.get()
        file = (TomlConfigSettingsSource(settings_cls, toml_file=toml),) if toml is not None else ()
        return (init_settings, env_settings, *file)


def _describe(err: ValidationError, origin: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown key '{key}'")
        else:
            got = e.get("input")
            shown = f" (got {got!r})" if not isinstance(got, dict) else ""
            if key in SECRET_KEYS:
                shown = " (value hidden)"
            env = "IONIS_" + key.upper().replace(".", "__")
            lines.append(f"{origin}: {key}: {e['msg']}{shown} [file key '{key}' or env {env}]")
    return "\n".join(lines)


def resolve_config_path(path: str | os.PathLike | None) -> Path | None:
    """--config wins, then IONIS_CONFIG, then ./settings.toml, then settings.toml in the user
    config folder, when present; None means defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsError(f"settings file not found: {p}")
        return p
    env = os.environ.get("IONIS_CONFIG")
    if env:
        return resolve_config_path(env)
    for p in (Path(DEFAULT_FILE), locations.config_dir() / DEFAULT_FILE):
        if p.is_file():
            return p
    return None


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read settings; every problem becomes one SettingsError naming the key."""
    cfg = resolve_config_path(path)
    data: dict[str, Any] = {}
    origin = str(cfg) if cfg else "defaults"
    if cfg is not None:
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise SettingsError(f"{cfg} is not UTF-8 text (bad byte at offset {exc.start}); "
                                f"save it as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{cfg} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"cannot read {cfg}: {exc.strerror}") from None
        for section, value in data.items():
            if not isinstance(value, dict):
                raise SettingsError(f"{cfg}: '{section}' must be a [section] table, not a value")
    token = _TOML_FILE.set(cfg)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origin + " / environment")) from None
    except PydanticSettingsError as exc:  # e.g. IONIS_TRAIN=garbage: a section set to non-JSON
        raise SettingsError(f"environment: {_env_culprit(str(exc))}") from None
    finally:
        _TOML_FILE.reset(token)
    settings._file = cfg
    return settings



def _env_culprit(text: str) -> str:
    # pydantic-settings says "error parsing value for field "train" from source ..."; name the
    # variable (its value is not repeated: it may be a secret).
    m = re.search(r'field "(\w+)"', text)
    if not m:
        return text.splitlines()[0]
    var = f"IONIS_{m.group(1).upper()}"
    return (f"{var} must be a JSON object of [{m.group(1)}] keys, e.g. "
            f"{var}='{{\"epochs\": 5}}', or set one key with {var}__<KEY>; unset it to use the file")
