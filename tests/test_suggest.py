from jaxaxon.suggest import closest, did_you_mean


def test_closest_by_spelling_and_by_case():
    assert closest("widht", ["width", "height"]) == "width"
    assert closest("minaxons", ["MinAxons", "MaxAxons", "NSplinePoints"]) == "MinAxons"
    assert closest("zzz", ["width", "height"]) is None


def test_did_you_mean_text():
    assert did_you_mean("dcie", ["dice", "bce"]) == "; did you mean 'dice'?"
    assert did_you_mean("shar", ["share"], prefix="real.") == "; did you mean 'real.share'?"
    assert did_you_mean("qqq", ["dice"]) == ""


def test_a_name_far_longer_than_any_known_one_gets_no_suggestion():
    assert closest("x" * 10_000_000, ["width", "height"]) is None  # and difflib is not run on it
    assert closest("WIDTH", ["width"]) == "width"
