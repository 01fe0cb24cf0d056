"""The datasets the course uses: where each file comes from and how to check it
(chapter: Getting started).

Each :class:`Dataset` is a dataset card (title, homepage, licence, citation) with its files.
``utils.data.download.fetch`` reads this manifest; nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """One file of a dataset, where to get it and how to check it.

    ``unpack`` says what the downloaded file becomes in the cache:
    ``"none"`` (stored as is), ``"gunzip"`` (decompressed) or ``"tar"`` (an archive whose single
    top-level folder is extracted). ``sha256`` and ``size`` describe what is stored: the file's
    bytes, the decompressed bytes, or, for an archive, the files matching ``tree_glob`` inside
    the extracted folder (see :func:`tree_digest`), since archives of the same files made by
    different hosts differ byte for byte.
    """

    url: str
    mirror_path: str
    target: str
    sha256: str
    size: int
    unpack: str = "none"
    tree_glob: str = ""


@dataclass(frozen=True)
class Dataset:
    """A dataset card: what it is, where it comes from, its licence, and its files."""

    name: str
    title: str
    homepage: str
    licence: str
    citation: str
    resources: tuple[Resource, ...]

    @property
    def size(self) -> int:
        return sum(r.size for r in self.resources)


_FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_CNNPROM_URL = (
    "https://raw.githubusercontent.com/solovictor/CNNPromoterData/"
    "b4d2949e9bc5206f3049b35a488b036125ccc653/"
)


def _fashion(stem: str, sha256: str, size: int) -> Resource:
    return Resource(
        url=f"{_FASHION_URL}{stem}.gz",
        mirror_path=f"fashion-mnist/{stem}.gz",
        target=f"FashionMNIST/raw/{stem}",  # where torchvision.datasets.FashionMNIST looks
        sha256=sha256,
        size=size,
        unpack="gunzip",
    )


def _promoter(filename: str, sha256: str, size: int) -> Resource:
    return Resource(
        url=_CNNPROM_URL + filename,
        mirror_path=f"CNNPromoterData/{filename}",
        target=filename,
        sha256=sha256,
        size=size,
    )


MANIFEST: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="fsdd",
            title="Free Spoken Digit Dataset v1.0.10 (3,000 recordings, 8 kHz, 6 speakers)",
            homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
            licence="CC BY-SA 4.0",
            citation="Z. Jackson et al., Free Spoken Digit Dataset v1.0.10, Zenodo, "
            "doi:10.5281/zenodo.1342401",
            resources=(
                Resource(
                    url=_FSDD_URL,
                    mirror_path="fsdd/free-spoken-digit-dataset-1.0.10.tar.gz",
                    target="free-spoken-digit-dataset-1.0.10",
                    sha256="baa3a6dcf4da47fb3075bec71a8cefb512022cb9ae030a79a31b315f37bc67af",
                    size=21_128_848,
                    unpack="tar",
                    tree_glob="recordings/*.wav",
                ),
            ),
        ),
        Dataset(
            name="fashion-mnist",
            title="Fashion-MNIST (70,000 greyscale 28x28 images, 10 classes)",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            licence="MIT",
            citation="H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST: a Novel Image Dataset for "
            "Benchmarking Machine Learning Algorithms, arXiv:1708.07747, 2017",
            resources=(
                _fashion(
                    "train-images-idx3-ubyte",
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    47_040_016,
                ),
                _fashion(
                    "train-labels-idx1-ubyte",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    60_008,
                ),
                _fashion(
                    "t10k-images-idx3-ubyte",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    7_840_016,
                ),
                _fashion(
                    "t10k-labels-idx1-ubyte",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    10_008,
                ),
            ),
        ),
        Dataset(
            name="promoters",
            title="CNNProm promoter / non-promoter sequences (251 nt, Arabidopsis and mouse)",
            homepage="https://github.com/solovictor/CNNPromoterData",
            licence="Published with the paper for research use",
            citation="R. K. Umarov, V. V. Solovyev, Recognition of prokaryotic and eukaryotic "
            "promoters using convolutional deep learning neural networks, PLOS ONE 12(2), 2017; "
            "sequences from EPDnew (Dreos et al., 2013)",
            resources=(
                _promoter(
                    "Arabidopsis_non_tata.fa",
                    "93f7c91d25bd18d7640c09f7fcd6052abf9f6f4425eda56dbebe6cc6ecfa2d1b",
                    1_889_600,
                ),
                _promoter(
                    "Arabidopsis_tata.fa",
                    "2beaa31c2797e7f8d193b6015b7239a89509341f59dde57d904d8664e492901b",
                    479_040,
                ),
                _promoter(
                    "Arabidopsis_non_prom_big.fa",
                    "12f6901527b506907373a6c4bcbaf289622159657e9f0a307b29f822ea2dc250",
                    3_954_332,
                ),
                _promoter(
                    "Mouse_tata.fa",
                    "754bde10d814e65ab74ab94c249b1cd3c483ab96a3a7ad7a6f85a6451353f4cd",
                    405_365,
                ),
                _promoter(
                    "Mouse_nonprom.fa",
                    "44fc703c470dd77c4c44ceb0b8b40f198742cd9781055fda9d1328f89b688026",
                    1_245_290,
                ),
            ),
        ),
    ]
}
