"""The Reconstruct page says what the shipped classifier reads in the input and in its reconstruction."""
import re

import torch

import vae
from app_pages import catalog
from vae.classifier import classifier_path, load_classifier
from vae.data import load_mnist, to_float

from test_pages import messages, widget

READ = re.compile(r"The classifier reads “(.+?)” in test digit #(\d+) \((\d+)% sure\) (?:and in|but “(.+?)” in) "
                  r"the reconstruction \((\d+)% sure\)")


def classifier_readings(count: int = 50) -> list[tuple[int, float, int, float]]:
    """(class, confidence) of the first `count` test digits and of their reconstructions (decoded from
    the latent mean), read by the shipped classifier here."""
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    classifier, _ = load_classifier(classifier_path("mnist"))
    x = to_float(load_mnist("test")[0][:count])
    with torch.no_grad():
        mean, _ = model.encode(x)
        before = classifier(x).softmax(dim=1).max(dim=1)
        after = classifier(model.decode(mean)).softmax(dim=1).max(dim=1)
    return list(zip(before.indices.tolist(), before.values.tolist(), after.indices.tolist(), after.values.tolist()))


def test_the_page_says_what_the_classifier_reads_and_when_the_two_differ(open_page):
    readings = classifier_readings()
    differ = next(i for i, (a, _, b, _) in enumerate(readings) if a != b)
    agree = next(i for i, (a, _, b, _) in enumerate(readings) if a == b)
    app = open_page("app_pages/pages/reconstruct.py")
    app.radio(key="source").set_value("A test digit").run()
    for index in (differ, agree):
        widget(app.number_input, "Test digit index").set_value(index).run()
        assert messages(app) == {"exception": [], "error": []}
        warned = [m.value for m in app.warning if "classifier reads" in m.value]
        said = warned + [c.value for c in app.caption if "classifier reads" in c.value]
        assert len(said) == 1 and len(warned) == (readings[index][0] != readings[index][2]), said   # a change warns
        before, sure_before, after, sure_after = readings[index]
        shown = READ.search(said[0])
        assert shown is not None, said[0]
        assert (shown[1], int(shown[2]), shown[4] or shown[1]) == (str(before), index, str(after))
        assert abs(int(shown[3]) - 100 * sure_before) <= 0.51 and abs(int(shown[5]) - 100 * sure_after) <= 0.51
