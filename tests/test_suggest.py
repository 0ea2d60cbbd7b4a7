from jaxaxon.suggest import closest, did_you_mean


def test_closest_by_spelling_and_by_case():
    assert closest("widht", ["width", "height"]) == "width"
    assert closest("minaxons", ["MinAxons", "MaxAxons", "NSplinePoints"]) == "MinAxons"
    assert closest("zzz", ["width", "height"]) is None


def test_did_you_mean_text():
    assert did_you_mean("dcie", ["dice", "bce"]) == "; did you mean 'dice'?"
    assert did_you_mean("shar", ["share"], prefix="real.") == "; did you mean 'real.share'?"
    assert did_you_mean("qqq", ["dice"]) == ""
