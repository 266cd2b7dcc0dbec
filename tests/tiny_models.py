"""Builders of tiny, random-initialised models that tests save to a temporary folder and load back offline.

Nothing here downloads: every component is built from a config, with a fixed torch seed so two builds are
identical. `build_tiny_sd_pipeline(folder)` writes a complete Stable Diffusion folder (UNet, VAE, CLIP text
encoder, a CLIP tokenizer over a small byte-level vocab, a scheduler, optionally a safety checker) that
diffusers' `from_pretrained(folder)` loads like a real model: 64x64 native size, ~0.1 s for 2 steps on CPU.
`build_tiny_sdxl_pipeline(folder)` does the same for SDXL's two-encoder architecture,
`build_tiny_taesd(folder)` writes an `AutoencoderTiny` (the TAESD architecture) and
`build_tiny_safety_checker(folder)` a `StableDiffusionSafetyChecker` whose thresholds the test chooses.
"""

from __future__ import annotations

from pathlib import Path

TEXT_HIDDEN = 32  # CLIP text width == the UNet's cross-attention width
WORDS = ("a", "red", "fox", "cat", "dog", "in", "the", "snow", "forest", "portrait", "of", "blurry", "photo")


def _bytes_to_unicode() -> list[str]:
    """CLIP's reversible byte → printable-character table (the base alphabet of its BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_clip_tokenizer(folder: Path, max_length: int = 77):
    """A real CLIPTokenizer over the byte alphabet plus a few whole words, saved to `folder`."""
    from transformers import CLIPTokenizer

    alphabet = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    for token in ["<|startoftext|>", "<|endoftext|>"] + alphabet + [c + "</w>" for c in alphabet]:
        vocab.setdefault(token, len(vocab))
    merges = []
    for word in WORDS:  # merge each word letter by letter so it becomes one token
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.setdefault(pieces[0], len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)
    folder = Path(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer


def _tiny_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=TEXT_HIDDEN,
                            intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
                            vocab_size=vocab_size, max_position_embeddings=77)
    return CLIPTextModel(config)


def tiny_sd_components(seed: int = 0) -> dict:
    """UNet, VAE, text encoder, scheduler of a tiny SD-1.x-shaped model (tokenizer added by the caller)."""
    import torch
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=TEXT_HIDDEN, norm_num_groups=2)
    vae = AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
                        norm_num_groups=2, sample_size=64)
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                steps_offset=1, timestep_spacing="trailing")
    return {"unet": unet, "vae": vae, "scheduler": scheduler}


def build_tiny_safety_checker(folder: Path, *, flag_everything: bool, seed: int = 0) -> Path:
    """A tiny `StableDiffusionSafetyChecker` + CLIP image processor saved to `folder`.

    Its concept thresholds are set so that it flags every image (`flag_everything=True`: thresholds far below
    any cosine similarity) or none (thresholds above 1), which makes the gateway's behaviour testable."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                     "vocab_size": 64, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1,
                       "image_size": 32, "patch_size": 8},
        projection_dim=8)
    checker = StableDiffusionSafetyChecker(config).eval()
    with torch.no_grad():
        checker.concept_embeds.normal_()
        checker.special_care_embeds.normal_()
        checker.concept_embeds_weights.fill_(-2.0 if flag_everything else 2.0)
        checker.special_care_embeds_weights.fill_(2.0)
    folder = Path(folder)
    checker.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_tiny_sd_pipeline(folder: Path, *, seed: int = 0, safety_checker: str | None = None) -> Path:
    """Write a complete tiny Stable Diffusion pipeline folder; `safety_checker` None, "flag" or "pass"."""
    from diffusers import StableDiffusionPipeline

    folder = Path(folder)
    tokenizer = build_clip_tokenizer(folder / "_tokenizer_tmp")
    components = tiny_sd_components(seed)
    components["text_encoder"] = _tiny_text_encoder(len(tokenizer))
    components["tokenizer"] = tokenizer
    checker = extractor = None
    if safety_checker is not None:
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        checker_dir = build_tiny_safety_checker(folder / "_checker_tmp", flag_everything=safety_checker == "flag")
        checker = StableDiffusionSafetyChecker.from_pretrained(checker_dir)
        extractor = CLIPImageProcessor.from_pretrained(checker_dir)
    pipe = StableDiffusionPipeline(**components, safety_checker=checker, feature_extractor=extractor,
                                   requires_safety_checker=checker is not None)
    pipe.save_pretrained(folder)
    _remove_tree(folder / "_tokenizer_tmp")
    _remove_tree(folder / "_checker_tmp")
    return folder


def build_tiny_sdxl_pipeline(folder: Path, seed: int = 0) -> Path:
    """A tiny SDXL-shaped pipeline (two text encoders, text_time conditioning): the GPU default's family."""
    import torch
    from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(folder)
    tokenizer = build_clip_tokenizer(folder / "_tokenizer_tmp")
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                                transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=6 * 8 + TEXT_HIDDEN,
                                cross_attention_dim=2 * TEXT_HIDDEN, norm_num_groups=8)
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, norm_num_groups=8, sample_size=64)
    config = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=TEXT_HIDDEN, intermediate_size=37,
                  num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=77,
                  projection_dim=TEXT_HIDDEN)
    pipe = StableDiffusionXLPipeline(
        vae=vae, unet=unet, text_encoder=CLIPTextModel(CLIPTextConfig(**config)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**config)), tokenizer=tokenizer,
        tokenizer_2=tokenizer, scheduler=EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
            timestep_spacing="trailing"))
    pipe.save_pretrained(folder)
    _remove_tree(folder / "_tokenizer_tmp")
    return folder


def build_tiny_taesd(folder: Path, seed: int = 0) -> Path:
    """A tiny `AutoencoderTiny` with the same 2x latent scale as the tiny pipeline's VAE."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    vae = AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                          num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4)
    folder = Path(folder)
    vae.save_pretrained(folder)
    return folder


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
