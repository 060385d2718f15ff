"""A tiny random-weight VLM built on this machine: the default and test model, so nothing is ever downloaded.

Each family uses its real config, model, tokenizer and processor classes (only the sizes are tiny and the
tokenizer is trained here on game text), and is saved with `save_pretrained`, so loading it goes through
exactly the code path of a real checkpoint.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.hf_quiet import quiet_hf
from vz_env import prompts
from vz_env.atomic import atomic_folder

FAMILIES = ("qwen2_5_vl", "llava")
CACHE_ENV = "VZ_SPY_CACHE"
BUILDER_VERSION = 3
VOCAB_SIZE = 3072
CORPUS_GAMES = 400

QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_MIN_PIXELS = 4 * 28 * 28


HEAD_DIM = 32


@dataclass(frozen=True)
class TinySize:
    """Layer sizes of a Qwen2.5-VL built here: tiny ones, or a published model's for benchmarks.

    Tiny sizes keep every head HEAD_DIM (32) wide: vLLM's CPU attention kernels need >= 32. Fields left at
    None follow the tiny model's rules (intermediate sizes twice the hidden size, HEAD_DIM-wide vision
    heads, the tokenizer's vocabulary, full attention in every vision block).
    """

    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    vision_hidden: int
    vision_depth: int
    max_image_tokens: int  # merged image tokens (28x28 pixels each) of a picture at most
    text_intermediate: int | None = None
    head_dim: int = HEAD_DIM
    vision_intermediate: int | None = None
    vision_heads: int | None = None
    vocab_size: int | None = None
    tie_word_embeddings: bool = False
    max_positions: int = 4096
    window_size: int = 112
    full_attention_blocks: tuple[int, ...] | None = None


TINY_SIZES = {
    # The random test model: 320x240 pictures become 168x224, i.e. 6x8 = 48 merged image tokens.
    "test": TinySize(64, 2, 2, 1, 64, 2, 64),
    # The pretrained default: 320x240 pictures become 140x196, i.e. 5x7 = 35 merged image tokens.
    "pretrain": TinySize(128, 4, 4, 2, 96, 2, 40),
}

LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] if message['content'] is string "
    "else message['content'][0]['text'] }}{{ ' ' }}"
    "{% else %}{{ message['role'].upper() + ': ' }}"
    "{% if message['content'] is string %}{{ message['content'] + ' ' }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}"
    "{% endfor %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
LLAVA_IMAGE_SIZE = 112
LLAVA_PATCH_SIZE = 14

# About a thousand common English words, so that the tokenizer also knows words outside the prompt templates.
COMMON_WORDS = """
the of and to in is it you that he was for on are with as his they be at one have this from or had by
word but what some we can out other were all there when up use your how said an each she which do their
time if will way about many then them write would like so these her long make thing see him two has look
more day could go come did number sound no most people my over know water than call first who may down
side been now find any new work part take get place made live where after back little only round man
year came show every good me give our under name very through just form sentence great think say help
low line differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big high such
follow act why ask men change went light kind off need house picture try us again animal point mother
world near build self earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let thought city tree cross farm
hard start might story saw far sea draw left late run while press close night real life few north open
seem together next white children begin got walk example ease paper group always music those both mark
often letter until mile river car feet care second book carry took science eat room friend began idea
fish mountain stop once base hear horse cut sure watch color colour face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half rock order
fire south problem piece told knew pass since top whole king space heard best hour better true during
hundred five remember step early hold west ground interest reach fast verb sing listen six table travel
less morning ten simple several vowel toward war lay against pattern slow center love person money serve
appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall lead cry
dark machine note wait plan figure star box noun field rest correct able pound done beauty drive stood
contain front teach week final gave green oh quick develop ocean warm free minute strong special mind
behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object
decide surface deep moon island foot system busy test record boat common gold possible plane stead dry
wonder laugh thousand ago ran check game shape equate hot miss brought heat snow tire bring yes distant
fill east paint language among grand ball yet wave drop heart am present heavy dance engine position arm
wide sail material size vary settle speak weight general ice matter circle pair include divide syllable
felt perhaps pick sudden count square reason length represent art subject region energy hunt probable
bed brother egg ride cell believe fraction forest sit race window store summer train sleep prove lone
leg exercise wall catch mount wish sky board joy winter sat written wild instrument kept glass grass cow
job edge sign visit past soft fun bright gas weather month million bear finish happy hope flower clothe
strange gone jump baby eight village meet root buy raise solve metal whether push seven paragraph third
shall held hair describe cook floor either result burn hill safe cat century consider type law bit coast
copy phrase silent tall sand soil roll temperature finger industry value fight lie beat excite natural
view sense ear else quite broke case middle kill son lake moment scale loud spring observe child
straight consonant nation dictionary milk speed method organ pay age section dress cloud surprise quiet
stone tiny climb cool design poor lot experiment bottom key iron single stick flat twenty skin smile
crease hole trade melody trip office receive row mouth exact symbol die least trouble shout except wrote
seed tone join suggest clean break lady yard rise bad blow oil blood touch grew cent mix team wire cost
lost brown wear garden equal sent choose fell fit flow fair bank collect save control decimal gentle
woman captain practice separate difficult doctor please protect noon whose locate ring character insect
caught period indicate radio spoke atom human history effect electric expect crop modern element hit
student corner party supply bone rail imagine provide agree thus capital chair danger fruit rich thick
soldier process operate guess necessary sharp wing create neighbor wash bat rather crowd corn compare
poem string bell depend meat rub tube famous dollar stream fear sight thin triangle planet hurry chief
colony clock mine tie enter major fresh search send yellow gun allow print dead spot desert suit current
lift rose continue block chart hat sell success company subtract event particular deal swim term
opposite wife shoe shoulder spread arrange camp invent cotton born determine quart nine truck noise
level chance gather shop stretch throw shine property column molecule select wrong gray grey repeat
require broad prepare salt nose plural anger claim continent oxygen sugar death pretty skill women
season solution magnet silver thank branch match suffix especially fig afraid huge sister steel discuss
forward similar guide experience score apple bought led pitch coat mass card band rope slip win dream
evening condition feed tool total basic smell valley nor double seat arrive master track parent shore
division sheet substance favor connect post spend chord fat glad original share station dad bread charge
proper bar offer segment duck instant market degree populate chick dear enemy reply drink occur support
speech nature range steam motion path liquid log meant quotient teeth shell neck assistant helpful user
system spy civilian player clue vote round
"""
COLOURS = ("gray", "red", "blue", "green", "brown", "purple", "cyan", "yellow")
SHAPES = ("cube", "sphere", "cylinder")
MATERIALS = ("rubber", "metal", "shiny", "matte")
SIZES = ("small", "large", "big", "tiny")
PLACES = ("left", "right", "front", "back", "middle", "corner", "center", "behind", "next to")
CHART_WORDS = ("bar", "line", "pie", "chart", "value", "axis", "slice", "highest", "lowest", "label")
REASONS = (
    "Let me think step by step.",
    "The clues of the others match my picture, except one.",
    "This player described something I cannot see.",
    "I am not sure, so I will describe something common.",
    "My picture shows several objects on a plane.",
    "Most players agree, so the odd one is likely the spy.",
    "I cannot tell who is the spy from these clues.",
)


def build_tiny_vlm(out_dir: str | os.PathLike[str], family: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Build and save a tiny VLM of `family` into `out_dir`, atomically (a temp dir beside it, renamed).

    `family` is one of FAMILIES (the test models every session builds) or of `agents.tiny_families`.
    """
    from agents.tiny_families import BUILDERS, MODEL_CLASSES, family_names, installed_families, save_family

    if family not in family_names():
        raise ValueError(f"unknown tiny VLM family {family!r}; choose one of {', '.join(family_names())}")
    if family in BUILDERS and family not in installed_families():
        raise ValueError(
            f"tiny VLM family {family!r} needs a transformers with {MODEL_CLASSES[family]}; "
            "the installed one has none"
        )
    out = Path(out_dir).expanduser().resolve()
    with atomic_folder(out) as tmp:
        if family in _BUILDERS:
            _BUILDERS[family](tmp, seed)
        else:
            save_family(BUILDERS[family], tmp, seed)
    return out


def cache_dir() -> Path:
    """Where built models are kept: $VZ_SPY_CACHE, default ~/.cache/vz-spy."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vz-spy").expanduser()


def default_model_path(family: str = "qwen2_5_vl") -> Path:
    """The random-weight tiny VLM's folder (the test model), built on first use in `cache_dir()`.

    The model used when none is named is the pretrained one: `tiny_vlm.shipped.pretrained_model_path`.
    """
    path = cache_dir() / f"tiny-{family.replace('_', '-')}-v{BUILDER_VERSION}"
    if not (path / "config.json").is_file():
        try:
            build_tiny_vlm(path, family=family, seed=0)
        except FileExistsError:
            if not (path / "config.json").is_file():
                raise
    return path


def training_corpus() -> list[str]:
    """Game-like text (prompts, clues, reasoning, boxed answers, common words) to train the tokenizer on."""
    rng = random.Random(0)
    texts = [
        prompts.ROLE_SPY,
        prompts.NO_CLUES_YET,
        "\\boxed{N/A} \\boxed{NA} N/A none <answer>3</answer>",
        " ".join(str(i) for i in range(100)),
        " ".join(f"PLAYER {i} Player {i} player_{i}" for i in range(1, 11)),
    ]
    for _ in range(CORPUS_GAMES):
        num_players = rng.randint(3, 6)
        history = "\n".join(
            f"Round {r}, PLAYER {p}: {_clue(rng)}" for r in (1, 2) for p in range(1, num_players + 1)
        )
        common = {"num_players": num_players, "num_spies": 1, "num_rounds": 2, "history": history}
        role = rng.choice((prompts.ROLE_SPY, prompts.ROLE_CIVILIAN, prompts.ROLE_HIDDEN)).format(**common)
        reasoning = " ".join(rng.sample(REASONS, 2))
        seat = rng.randint(1, num_players)
        texts.append(
            prompts.CLUE_PROMPT.format(
                seat=seat, role=role, round=rng.randint(1, 2), own_reasoning=reasoning, **common
            )
        )
        candidates = prompts.candidates_text(seat, num_players)
        texts.append(
            prompts.VOTE_PROMPT.format(
                seat=seat, role=role, own_reasoning=reasoning, candidates=candidates, **common
            )
        )
        texts.append(prompts.OBSERVER_PROMPT.format(**common))
        answer = rng.choice(
            [str(rng.randint(1, num_players)), "N/A", f"PLAYER {rng.randint(1, num_players)}"]
        )
        texts.append(f"{reasoning} \\boxed{{{_clue(rng)}}} {reasoning} \\boxed{{{answer}}}")
        words = rng.sample(COMMON_WORDS.split(), 24)
        texts.append(" ".join(words).capitalize() + ". " + " ".join(w.capitalize() for w in words[:6]) + "!")
    return texts


def _clue(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"The {rng.choice(CHART_WORDS)} of {rng.choice(COLOURS)} is {rng.randint(0, 99)}."
    obj = f"{rng.choice(SIZES)} {rng.choice(COLOURS)} {rng.choice(MATERIALS)} {rng.choice(SHAPES)}"
    return f"There is a {obj} {rng.choice(PLACES)} the {rng.choice(COLOURS)} {rng.choice(SHAPES)}."


def _train_bpe(tokenizer: Any, trainer: Any) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocab and merges learnt from the game corpus (the same for every seed, like a real model family)."""
    tokenizer.train_from_iterator(training_corpus(), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]


def _qwen_tokenizer() -> Any:
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    vocab, merges = _train_bpe(bpe, trainer)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=[t for t in QWEN_SPECIAL_TOKENS if t not in ("<|im_end|>", "<|endoftext|>")],
        model_max_length=32768,
    )
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def _llama_tokenizer() -> Any:
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import LlamaTokenizer

    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    bpe = Tokenizer(BPE(unk_token="<unk>", byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - 2,
        special_tokens=specials,
        initial_alphabet=[chr(c) for c in range(32, 127)],
        show_progress=False,
    )
    vocab, merges = _train_bpe(bpe, trainer)
    tokenizer = LlamaTokenizer(vocab=vocab, merges=merges, pad_token="<pad>", model_max_length=4096)
    tokenizer.add_special_tokens({"extra_special_tokens": ["<image>"]})
    tokenizer.chat_template = LLAVA_CHAT_TEMPLATE
    return tokenizer


def _build_qwen2_5_vl(folder: Path, seed: int) -> None:
    model, processor = new_qwen2_5_vl(seed, TINY_SIZES["test"])
    with quiet_hf():
        model.save_pretrained(folder)
        processor.save_pretrained(folder)


def new_qwen2_5_vl(
    seed: int,
    size: TinySize,
    tokenizer: Any = None,
    device: str | Any | None = None,
    dtype: Any = None,
) -> tuple[Any, Any]:
    """A random Qwen2.5-VL of `size` and its processor, in memory (pretraining and benchmarks start here).

    `tokenizer` (default: the one trained here) must have Qwen's special tokens; its chat template, if it has
    one, is the processor's. `device` and `dtype` place the weights as they are drawn (a 7B model in bf16 on a
    GPU never passes through CPU memory).
    """
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = tokenizer if tokenizer is not None else _qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    eighth = (
        size.head_dim // 16
    )  # mrope shares a head's head_dim / 2 frequencies 2:3:3 among time, height, width
    vision_depth = size.vision_depth
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": size.vocab_size or len(tokenizer),
            "hidden_size": size.text_hidden,
            "intermediate_size": size.text_intermediate or 2 * size.text_hidden,
            "num_hidden_layers": size.text_layers,
            "num_attention_heads": size.text_heads,
            "num_key_value_heads": size.text_kv_heads,
            "head_dim": size.head_dim,
            "max_position_embeddings": size.max_positions,
            "max_window_layers": size.text_layers,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1e6,
                "mrope_section": [2 * eighth, 3 * eighth, 3 * eighth],
            },
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": vision_depth,
            "hidden_size": size.vision_hidden,
            "intermediate_size": size.vision_intermediate or 2 * size.vision_hidden,
            "num_heads": size.vision_heads or size.vision_hidden // HEAD_DIM,
            "out_hidden_size": size.text_hidden,
            "window_size": size.window_size,
            # Tiny: full attention in every block, as windows only cost many small calls on tiny pictures.
            "fullatt_block_indexes": list(size.full_attention_blocks or range(vision_depth)),
        },
        tie_word_embeddings=size.tie_word_embeddings,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    pixels = {"min_pixels": QWEN_MIN_PIXELS, "max_pixels": size.max_image_tokens * 28 * 28}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels),
        chat_template=tokenizer.chat_template or QWEN_CHAT_TEMPLATE,
    )
    with torch.random.fork_rng(devices=[]), torch.device(device or "cpu"):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=True,
        temperature=0.8,
        top_p=1.0,
    )
    return model, processor


def _build_llava(folder: Path, seed: int) -> None:
    import torch
    from transformers import (
        CLIPImageProcessor,
        GenerationConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _llama_tokenizer()
    hidden = 64
    num_patches = (LLAVA_IMAGE_SIZE // LLAVA_PATCH_SIZE) ** 2
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": LLAVA_IMAGE_SIZE,
            "patch_size": LLAVA_PATCH_SIZE,
            "projection_dim": hidden,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 4096,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=num_patches,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    side = {"height": LLAVA_IMAGE_SIZE, "width": LLAVA_IMAGE_SIZE}
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": LLAVA_IMAGE_SIZE}, crop_size=side),
        tokenizer=tokenizer,
        patch_size=LLAVA_PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        temperature=0.8,
        top_p=1.0,
    )
    with quiet_hf():
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
    _published_llava_keys(folder / "model.safetensors")


def _published_llava_keys(weights: Path) -> None:
    """Name the CLIP tower's weights as published LLaVA checkpoints do (`vision_tower.vision_model.*`).

    transformers 5 saves them as `vision_tower.*` and loads either name; vLLM accepts only the published one.
    """
    from safetensors.torch import load_file, save_file

    tensors = load_file(weights)
    renamed = {
        "vision_tower.vision_model." + key.removeprefix("vision_tower.")
        if key.startswith("vision_tower.") and not key.startswith("vision_tower.vision_model.")
        else key: value
        for key, value in tensors.items()
    }
    save_file(renamed, weights, metadata={"format": "pt"})


_BUILDERS = {"qwen2_5_vl": _build_qwen2_5_vl, "llava": _build_llava}
