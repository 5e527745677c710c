"""sweep_report.html opened in a real headless Chromium: it renders its tables and plots and
the browser's console shows no error. Skipped, saying why, where no Chromium is installed
(.ci/run installs Debian's where it can)."""

import shutil
import subprocess

import pytest

from tests.conftest import run_script

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args, timeout=120):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def report_page(sweep, range_file):
    text = "CONFIG_SEED=30\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_LEARNING_RATE=1e-3|1e-2\n"
    made = run_script("generate_config_combinations.py", range_file(text), sweep.configs, "--repeats", "3")
    assert made.returncode == 0, made.stderr
    assert sweep.run("--no-progress", env={"TINY_EPOCHS": "3"}).returncode == 0
    return sweep.dirs()[0] / "sweep_report.html"


def test_the_html_report_is_one_self_contained_file_with_the_reports_sections(report_page):
    page = report_page.read_text()
    for section in ("Best configuration", "Configs by mean over seeds", "Ranked runs (6)", "Plots"):
        assert section in page, section
    assert "data:image/png;base64," in page and "<svg class='ci'" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "href='config_001_lenet5_adamw/output.log'" in page


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)")
def test_chromium_renders_the_report_without_a_console_error(report_page, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    result = chromium(
        "--hide-scrollbars", "--window-size=1280,2000", f"--screenshot={shot}", report_page.as_uri()
    )
    assert shot.is_file(), result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    pixels = imread(shot)
    assert pixels.shape[0] == 2000 and pixels.std() > 0.05  # not a blank page
    dom = chromium("--dump-dom", report_page.as_uri()).stdout
    assert dom.count("<tr") >= 6 + 2 and "Configs by mean over seeds" in dom
