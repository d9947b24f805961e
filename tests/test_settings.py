"""Settings: file, environment overrides, and clear messages for bad values."""

import tomllib
from pathlib import Path

import pytest

from engine.errors import SettingsError
from engine.settings import Settings, TrainSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def _defaults(cls) -> dict:
    """Every field's default; a sub-section ([train.experimental]) as a nested table."""
    return {key: _defaults(field.annotation) if field.default_factory else field.default
            for key, field in cls.model_fields.items()}


def test_settings_toml_holds_every_default():
    data = tomllib.loads((ROOT / "settings.toml").read_text())
    sections = {name: field.annotation for name, field in Settings.model_fields.items()}
    assert set(data) == set(sections)
    for section, cls in sections.items():
        assert data[section] == _defaults(cls), section


def test_default_locations_are_the_user_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./settings.toml here
    monkeypatch.setenv("IONIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IONIS_CONFIG_DIR", str(tmp_path / "config"))
    s = load_settings()
    assert s.source_file is None
    assert s.database.path == str(tmp_path / "data" / "ionis.chdb")
    assert s.runs.dir == str(tmp_path / "data" / "runs")
    # A settings.toml in the user config folder is read from any directory ...
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text("[runs]\ndir = 'mine'\n")
    assert load_settings().runs.dir == "mine"
    assert load_settings().source_file == tmp_path / "config" / "settings.toml"
    # ... unless ./settings.toml (or --config / IONIS_CONFIG) says otherwise.
    (tmp_path / "settings.toml").write_text("[runs]\ndir = 'here'\n")
    assert load_settings().runs.dir == "here"


def test_env_overrides_file(tmp_path, monkeypatch):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[train]\nepochs = 7\n[database]\npath = 'x.chdb'\n")
    assert load_settings(cfg).train.epochs == 7
    monkeypatch.setenv("IONIS_TRAIN__EPOCHS", "3")
    monkeypatch.setenv("IONIS_DATABASE__PATH", "/tmp/other.chdb")
    s = load_settings(cfg)
    assert s.train.epochs == 3 and s.database.path == "/tmp/other.chdb"


def test_constructor_beats_environment_beats_file(tmp_path, monkeypatch):
    monkeypatch.setenv("IONIS_TRAIN__LR_TRUNK", "0.5")
    s = Settings(train=TrainSettings(epochs=3, device="cpu"))
    # A section passed in is kept whole: the environment does not leak into it.
    assert (s.train.epochs, s.train.device, s.train.lr_trunk) == (3, "cpu", 3e-4)
    assert Settings().train.lr_trunk == 0.5
    cfg = tmp_path / "s.toml"
    cfg.write_text("[train]\nlr_trunk = 0.1\nepochs = 4\n")
    from_file = load_settings(cfg)
    assert (from_file.train.lr_trunk, from_file.train.epochs) == (0.5, 4)


def test_ionis_config_env_selects_file(tmp_path, monkeypatch):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[runs]\ndir = 'elsewhere'\n")
    monkeypatch.setenv("IONIS_CONFIG", str(cfg))
    assert load_settings().runs.dir == "elsewhere"


@pytest.mark.parametrize("text,needle", [
    ("[train]\nepochs = -1\n", "train.epochs"),
    ("[train]\nbatch_size = 'big'\n", "train.batch_size"),
    ("[database]\nmode = 'cloud'\n", "database.mode"),
    ("[database]\nport = 70000\n", "database.port"),
    ("[database]\ntable = 'x; DROP TABLE y'\n", "database.table"),
    ("[database]\nhots = 'typo'\n", "unknown key 'database.hots'"),
    ("[train]\nclamp_min = 3.0\n", "clamp_min"),
    ("[train]\nval_fraction = 1.5\n", "train.val_fraction"),
    ("[train\nepochs = 1\n", "not valid TOML"),
    ("train = 3\n", "must be a [section] table"),
])
def test_bad_values_name_the_key(tmp_path, text, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(SettingsError) as exc:
        load_settings(cfg)
    assert needle in str(exc.value)
    assert "Traceback" not in str(exc.value)


def test_bad_env_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("IONIS_TRAIN__SEED", "abc")
    with pytest.raises(SettingsError, match="IONIS_TRAIN__SEED"):
        load_settings(ROOT / "settings.toml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_the_trainers_settings_file_carries_every_value_and_subsection(tmp_path, monkeypatch):
    """The app hands its effective settings to the detached trainer as a file: nested sections
    ([train.experimental]) included. A flat writer wrote that section as one string, and every
    run the app started failed with 'train.experimental: Input should be a valid dictionary'."""
    from ionis_tui.detached import settings_toml

    monkeypatch.chdir(tmp_path)
    s = Settings()
    s.train.epochs, s.train.experimental.storm_weight = 7, 1.5
    p = tmp_path / "handed.toml"
    p.write_text(settings_toml(s))
    back = load_settings(p)
    assert back.train.epochs == 7 and back.train.experimental.storm_weight == 1.5
    assert back.train.experimental == s.train.experimental
