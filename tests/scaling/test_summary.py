"""The words the summary puts on a prediction: a bootstrap share means something only when the fits behind it hold."""

from retlab.scaling.summary import how_sure


def test_a_prediction_from_fits_without_warnings_is_put_in_words_by_its_share():
    assert (
        how_sure({"lower": "retnet", "p_lower": 0.97, "unreliable": []})
        == "P(retnet lower) = 97.0% (confident)"
    )
    assert how_sure({"lower": "retnet", "p_lower": 0.85, "unreliable": []}).endswith("(likely)")
    assert how_sure({"lower": "retnet", "p_lower": 0.6}).endswith(
        "(uncertain)"
    )  # a fit.json from before the field


def test_a_prediction_resting_on_a_fit_with_warnings_says_it_is_not_to_be_trusted_whatever_its_share():
    words = how_sure({"lower": "transformer", "p_lower": 0.92, "unreliable": ["transformer"]})
    assert words == "P(transformer lower) = 92.0% (not to be trusted: the transformer fit carries warnings)"
    both = how_sure({"lower": "retnet", "p_lower": 0.99, "unreliable": ["retnet", "transformer"]})
    assert "confident" not in both and "the retnet and transformer fits carry warnings" in both
