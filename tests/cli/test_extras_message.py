"""The message when a verb's imports fail: a missing third-party extra, or a stale install."""

from dnnfusion.commands.extras import missing_extra_message


def test_missing_third_party_module_names_the_extra():
    err = ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
    text = missing_extra_message(err, "dnnfusion serve")
    assert text.startswith("error: dnnfusion serve needs the service extra: pip install ")
    assert "\n" not in text


def test_missing_own_package_asks_for_a_reinstall():
    err = ModuleNotFoundError("No module named 'dnfstore.profiling_models'", name="dnfstore.profiling_models")
    text = missing_extra_message(err, "dnnfusion serve")
    assert "'dnfstore'" in text and "pip install -e . again" in text
    assert "extra" not in text
