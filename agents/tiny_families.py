"""Tiny random builds of the VLM families researchers train: each is tested end to end, nothing downloaded.

Every family uses the installed transformers' real config, model, tokenizer and processor classes and a chat
template in the published format; only the sizes are tiny and the tokenizer is trained here on game text.
`agents.tiny_vlm.build_tiny_vlm` builds these as it builds its own two families.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.hf_quiet import quiet_hf
from agents.tiny_vlm import VOCAB_SIZE, _train_bpe

HIDDEN, LAYERS, HEADS, HEAD_DIM = 64, 2, 2, 32
IMAGE_SIDE, PATCH = (
    32,
    16,
)  # vision towers see 32x32 pictures in 16x16 patches: 4 patches, merged to 1 token or few

QWEN3_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3.5 thinks by default: the generation prompt opens a <think> block unless enable_thinking=False.
QWEN3_5_CHAT_TEMPLATE = QWEN3_CHAT_TEMPLATE.replace(
    "<|im_start|>assistant\n{% endif %}",
    "<|im_start|>assistant\n{% if enable_thinking is defined and enable_thinking is false %}"
    "<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}{% endif %}",
)
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set first = (messages[0]['content'] if messages[0]['content'] is string "
    "else messages[0]['content'][0]['text']) + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{{ first if loop.first else '' }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<start_of_image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
INTERNVL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif content['type'] == 'video' %}<video>\n{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% if message['content'] is string %}{{ '\n' + message['content'] }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}"
    "{% endfor %}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ '\n' + content['text'] }}{% endfor %}{% endif %}{{ '<|im_end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
QWEN_SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _byte_level_tokenizer(
    tokenizer_class: Any, specials: Sequence[str], regex: str | None = None, **kwargs: Any
) -> Any:
    """A byte-level BPE (Qwen, SmolLM) trained on game text, as `tokenizer_class` with `specials` added."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE

    bpe = Tokenizer(BPE())
    bpe.normalizer = normalizers.NFC()
    split = [pre_tokenizers.Split(Regex(regex), behavior="isolated")] if regex else []
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [*split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=not regex)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    vocab, merges = _train_bpe(bpe, trainer)
    named = {v for v in kwargs.values() if isinstance(v, str)}
    extra = [t for t in specials if t not in named]
    return tokenizer_class(vocab=vocab, merges=merges, extra_special_tokens=extra, **kwargs)


def _qwen_family_tokenizer(tokenizer_class: Any = None, regex: str | None = None, **named: str) -> Any:
    """Qwen2's byte-level BPE with Qwen's control and vision tokens (and `named` model-specific ones)."""
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    specials = [*QWEN_SPECIALS, *(t for t in named.values() if t not in QWEN_SPECIALS)]
    return _byte_level_tokenizer(
        tokenizer_class or Qwen2Tokenizer,
        specials,
        regex or PRETOKENIZE_REGEX,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_specific_special_tokens=named,
    )


def _ids(tokenizer: Any, *tokens: str) -> dict[str, int]:
    return {t: tokenizer.convert_tokens_to_ids(t) for t in tokens}


def _text_config(tokenizer: Any, model_type: str, **overrides: Any) -> dict[str, Any]:
    """A two-layer decoder with 32-wide heads and the tokenizer's vocabulary and special ids."""
    return {
        "model_type": model_type,
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": 1,
        "head_dim": HEAD_DIM,
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **overrides,
    }


def _vision_config(**overrides: Any) -> dict[str, Any]:
    """A one-block ViT over 32x32 pictures in 16x16 patches."""
    return {
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": HEADS,
        "image_size": IMAGE_SIDE,
        "patch_size": PATCH,
        **overrides,
    }


def _qwen3_vision_config(deepstack: Sequence[int] = ()) -> dict[str, Any]:
    return {
        "depth": 2,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_heads": HEADS,
        "out_hidden_size": HIDDEN,
        "num_position_embeddings": 64,
        **({"deepstack_visual_indexes": list(deepstack)} if deepstack else {}),
    }


def _qwen3_processors(tokenizer: Any, template: str) -> dict[str, Any]:
    """Qwen3-VL's image and video processors (16-pixel patches merged 2x2) with a small pixel budget."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLVideoProcessor

    size = {"shortest_edge": 4 * 32 * 32, "longest_edge": 16 * 32 * 32}
    half = {"image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    return {
        "image_processor": Qwen2VLImageProcessor(patch_size=16, merge_size=2, size=size, **half),
        "tokenizer": tokenizer,
        "video_processor": Qwen3VLVideoProcessor(size=size),
        "chat_template": template,
    }


def _qwen_vision_ids(tokenizer: Any) -> dict[str, int]:
    ids = _ids(tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }


def qwen3_vl(seed: int) -> tuple[Any, Any]:
    """Qwen3-VL: interleaved mrope, deepstack features from a vision block fed into the decoder."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    tokenizer = _qwen_family_tokenizer()
    rope = {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [6, 5, 5], "mrope_interleaved": True}
    config = Qwen3VLConfig(
        text_config=_text_config(tokenizer, "qwen3_vl_text", rope_parameters=rope),
        vision_config=_qwen3_vision_config(deepstack=[0]),
        **_qwen_vision_ids(tokenizer),
    )
    processor = Qwen3VLProcessor(**_qwen3_processors(tokenizer, QWEN3_CHAT_TEMPLATE))
    return _seeded(Qwen3VLForConditionalGeneration, config, seed), processor


def qwen3_5(seed: int) -> tuple[Any, Any]:
    """Qwen3.5: a hybrid decoder (one Gated DeltaNet linear-attention layer, one full-attention layer)."""
    from transformers import (
        Qwen3_5Config,
        Qwen3_5ForConditionalGeneration,
        Qwen3_5Tokenizer,
        Qwen3VLProcessor,
    )
    from transformers.models.qwen3_5.tokenization_qwen3_5 import PRETOKENIZE_REGEX

    tokenizer = _qwen_family_tokenizer(Qwen3_5Tokenizer, PRETOKENIZE_REGEX)
    rope = {
        "rope_type": "default",
        "rope_theta": 1e7,
        "mrope_section": [2, 1, 1],  # a quarter of each 32-wide head rotates: 8 dims, 4 frequencies
        "mrope_interleaved": True,
        "partial_rotary_factor": 0.25,
    }
    text = _text_config(
        tokenizer,
        "qwen3_5_text",
        rope_parameters=rope,
        layer_types=["linear_attention", "full_attention"],
        linear_key_head_dim=HEAD_DIM,
        linear_value_head_dim=HEAD_DIM,
        linear_num_key_heads=HEADS,
        linear_num_value_heads=HEADS,
    )
    config = Qwen3_5Config(
        text_config=text, vision_config=_qwen3_vision_config(), **_qwen_vision_ids(tokenizer)
    )
    processor = Qwen3VLProcessor(**_qwen3_processors(tokenizer, QWEN3_5_CHAT_TEMPLATE))
    return _seeded(Qwen3_5ForConditionalGeneration, config, seed), processor


def _gemma_tokenizer() -> Any:
    """Gemma's sentencepiece-style BPE (byte fallback) with its turn and image tokens."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import GemmaTokenizer

    named = {
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
    }
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    specials += [*named.values(), *(f"<0x{b:02X}>" for b in range(256))]
    bpe = Tokenizer(BPE(unk_token="<unk>", byte_fallback=True))
    bpe.normalizer = normalizers.Replace(" ", "▁")
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=[chr(c) for c in range(32, 127)],
        show_progress=False,
    )
    vocab, merges = _train_bpe(bpe, trainer)
    return GemmaTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=["<start_of_turn>", "<end_of_turn>", *named.values()],
        model_specific_special_tokens=named,
    )


def gemma3(seed: int) -> tuple[Any, Any]:
    """Gemma 3: SigLIP pooled to a square of soft tokens, bidirectional attention over each image's tokens."""
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
    )

    tokenizer = _gemma_tokenizer()
    ids = _ids(tokenizer, "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<end_of_turn>")
    text = _text_config(
        tokenizer,
        "gemma3_text",
        sliding_window=64,
        layer_types=["sliding_attention", "full_attention"],
        query_pre_attn_scalar=HEAD_DIM,
    )
    config = Gemma3Config(
        text_config=text,
        vision_config=_vision_config(model_type="siglip_vision_model"),
        mm_tokens_per_image=1,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    side = {"height": IMAGE_SIDE, "width": IMAGE_SIDE}
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size=side, image_mean=[0.5] * 3, image_std=[0.5] * 3),
        tokenizer=tokenizer,
        image_seq_length=1,
        chat_template=GEMMA3_CHAT_TEMPLATE,
    )
    eos = [tokenizer.eos_token_id, ids["<end_of_turn>"]]
    return _seeded(Gemma3ForConditionalGeneration, config, seed, eos), processor


def idefics3(seed: int) -> tuple[Any, Any]:
    """SmolVLM (Idefics3): pictures split into tiles plus a global view, pixel-shuffled into few tokens."""
    from transformers import (
        GPT2Tokenizer,
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
    )

    tokenizer = _byte_level_tokenizer(
        GPT2Tokenizer,
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    processor = Idefics3Processor(
        image_processor=Idefics3ImageProcessor(
            size={"longest_edge": 2 * IMAGE_SIDE}, max_image_size={"longest_edge": IMAGE_SIDE}
        ),
        tokenizer=tokenizer,
        image_seq_len=1,  # (32 / 16)^2 patches, pixel-shuffled by scale_factor 2
        chat_template=IDEFICS3_CHAT_TEMPLATE,
    )  # adds <image>, <fake_token_around_image>, <end_of_utterance> and the tile tags to the tokenizer
    config = Idefics3Config(
        text_config=_text_config(tokenizer, "llama"),
        vision_config=_vision_config(),
        scale_factor=2,
        image_token_id=processor.image_token_id,
    )
    eos = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_utterance>")]
    return _seeded(Idefics3ForConditionalGeneration, config, seed, eos), processor


def internvl(seed: int) -> tuple[Any, Any]:
    """InternVL (the HF port): InternViT tiles, pixel-shuffled, into a Qwen2 decoder as <IMG_CONTEXT>s."""
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    tokenizer = _qwen_family_tokenizer(
        start_image_token="<img>",
        end_image_token="</img>",
        context_image_token="<IMG_CONTEXT>",
        video_token="<video>",
    )
    side = {"height": IMAGE_SIDE, "width": IMAGE_SIDE}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=side, max_patches=4),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size=side),
        image_seq_length=1,  # (32 / 16)^2 patches, downsampled by 0.5 per side
        chat_template=INTERNVL_CHAT_TEMPLATE,
    )
    vision = _vision_config(image_size=[IMAGE_SIDE] * 2, patch_size=[PATCH] * 2)
    config = InternVLConfig(
        text_config=_text_config(tokenizer, "qwen2"),
        vision_config=vision,
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=1,
    )
    return _seeded(InternVLForConditionalGeneration, config, seed), processor


def llava_onevision(seed: int) -> tuple[Any, Any]:
    """LLaVA-OneVision: anyres tiles of a SigLIP tower plus a base view, unpadded, with a newline per row."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tokenizer = _qwen_family_tokenizer(image_token="<image>", video_token="<video>")
    pinpoints = [[IMAGE_SIDE, IMAGE_SIDE], [IMAGE_SIDE, 2 * IMAGE_SIDE], [2 * IMAGE_SIDE, IMAGE_SIDE]]
    side = {"height": IMAGE_SIDE, "width": IMAGE_SIDE}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=side, image_grid_pinpoints=pinpoints),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size=side),
        num_image_tokens=(IMAGE_SIDE // PATCH) ** 2,
        vision_feature_select_strategy="full",
        chat_template=ONEVISION_CHAT_TEMPLATE,
    )
    ids = _ids(tokenizer, "<image>", "<video>")
    config = LlavaOnevisionConfig(
        text_config=_text_config(tokenizer, "qwen2"),
        vision_config=_vision_config(model_type="siglip_vision_model"),
        image_token_index=ids["<image>"],
        video_token_index=ids["<video>"],
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
    )
    return _seeded(LlavaOnevisionForConditionalGeneration, config, seed), processor


def _seeded(model_class: Any, config: Any, seed: int, eos: Sequence[int] | None = None) -> Any:
    """The model with weights drawn from `seed` (the global RNG is left alone) and a plain sampling config."""
    import torch
    from transformers import GenerationConfig

    text = config.get_text_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    model.generation_config = GenerationConfig(
        bos_token_id=text.bos_token_id,
        eos_token_id=list(eos) if eos else text.eos_token_id,
        pad_token_id=text.pad_token_id,
        do_sample=True,
        temperature=0.8,
        top_p=1.0,
    )
    return model


def save_family(build: Callable[[int], tuple[Any, Any]], folder: Path, seed: int) -> None:
    """Build one family's model and processor and write them with `save_pretrained`."""
    model, processor = build(seed)
    with quiet_hf():
        model.save_pretrained(folder)
        processor.save_pretrained(folder)


def family_names() -> tuple[str, ...]:
    """Every family build_tiny_vlm knows: the two test models, then these (installed or not)."""
    from agents.tiny_vlm import FAMILIES

    return (*FAMILIES, *BUILDERS)


def installed_families() -> tuple[str, ...]:
    """The families whose model class the installed transformers has (Qwen3.5 arrived after 5.0)."""
    import transformers

    return tuple(family for family, name in MODEL_CLASSES.items() if hasattr(transformers, name))


MODEL_CLASSES = {
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
    "qwen3_5": "Qwen3_5ForConditionalGeneration",
    "gemma3": "Gemma3ForConditionalGeneration",
    "idefics3": "Idefics3ForConditionalGeneration",
    "internvl": "InternVLForConditionalGeneration",
    "llava_onevision": "LlavaOnevisionForConditionalGeneration",
}
BUILDERS: dict[str, Callable[[int], tuple[Any, Any]]] = {
    "qwen3_vl": qwen3_vl,
    "qwen3_5": qwen3_5,
    "gemma3": gemma3,
    "idefics3": idefics3,
    "internvl": internvl,
    "llava_onevision": llava_onevision,
}
