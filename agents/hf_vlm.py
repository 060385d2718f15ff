"""Any local Hugging Face image-text-to-text model as a spy-game player, and the sampler training learns from.

The model is loaded through AutoProcessor + AutoModelForImageTextToText and prompted with its own chat
template, so Qwen2.5-VL, LLaVA, SmolVLM and the like plug in by path. `generate` also returns what a
trainer needs to score each sample again: the exact sampled token ids, their log-probs under the
temperature-scaled logits, and the unpadded model inputs of the prompt.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from agents.base import Policy
from agents.hf_quiet import quiet_hf
from agents.sampling import Sampling, sampling_with

PADDING_SIDES = ("left", "right")


class ModelLoadError(ValueError):
    """The model path does not exist or does not hold a usable image-text-to-text model."""


@dataclass
class PromptInputs:
    """The processor's output for one observation, unpadded; every sample drawn for it shares this object.

    `token_inputs` are per-token tensors aligned with `input_ids` (e.g. Qwen's `mm_token_type_ids`);
    `vision_inputs` are the image tensors (e.g. `pixel_values`, `image_grid_thw`), which a batch
    concatenates along dim 0 in row order.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    vision_inputs: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def extended(self, completion_ids: torch.Tensor) -> PromptInputs:
        """The same inputs followed by completion tokens (plain text), to score prompt + completion."""
        n = int(completion_ids.shape[0])
        return PromptInputs(
            input_ids=torch.cat([self.input_ids, completion_ids.to(self.input_ids.dtype)]),
            attention_mask=torch.cat([self.attention_mask, self.attention_mask.new_ones(n)]),
            token_inputs={k: torch.cat([v, v.new_zeros(n)]) for k, v in self.token_inputs.items()},
            vision_inputs=self.vision_inputs,
        )


@dataclass
class Generation:
    """One sampled completion with everything needed to score it again with gradient.

    `completion_ids` are the exact sampled ids (no padding, ending at the first EOS when one was sampled),
    `logprobs` their log-probs under log_softmax(logits / temperature), `finished` whether an EOS ended
    it, and `observation_index` the position of its observation in the `generate` call. `from_engine` is
    True when an inference engine (vLLM), not the trained model, sampled it and computed `logprobs`: the
    trainer then applies the truncated importance weight of docs/spec.md s6.
    """

    text: str
    completion_ids: torch.Tensor
    logprobs: torch.Tensor
    prompt: PromptInputs
    observation_index: int
    finished: bool
    from_engine: bool = False


def stack_inputs(
    prompts: Sequence[PromptInputs], pad_token_id: int, padding_side: str = "left"
) -> dict[str, torch.Tensor]:
    """Pad token tensors to one length and concatenate vision tensors in row order: one model batch."""
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
    if not prompts:
        raise ValueError("cannot stack an empty list of prompts")
    width = max(len(p) for p in prompts)

    def pad(rows: list[torch.Tensor], value: int) -> torch.Tensor:
        out = rows[0].new_full((len(rows), width), value)
        for i, row in enumerate(rows):
            if padding_side == "left":
                out[i, width - row.shape[0] :] = row
            else:
                out[i, : row.shape[0]] = row
        return out

    batch = {
        "input_ids": pad([p.input_ids for p in prompts], pad_token_id),
        "attention_mask": pad([p.attention_mask for p in prompts], 0),
    }
    for key in prompts[0].token_inputs:
        batch[key] = pad([p.token_inputs[key] for p in prompts], 0)
    for key in prompts[0].vision_inputs:
        batch[key] = torch.cat([p.vision_inputs[key] for p in prompts])
    return batch


def split_vision_inputs(
    vision_inputs: Mapping[str, torch.Tensor], count: int
) -> list[dict[str, torch.Tensor]] | None:
    """Each of `count` images' share of a processor's image tensors, as `encode` of that image alone gives.

    A tensor is cut along dim 0 into one row per image, or, for patch rows of Qwen-style processors,
    into the patch counts of `*_grid_thw`. None when a tensor fits neither. Shares are copies, so
    keeping one sample's inputs does not keep the whole batch's pixels alive.
    """
    if count == 1:
        return [dict(vision_inputs)]
    grids = [value for key, value in vision_inputs.items() if key.endswith("grid_thw")]
    patches = grids[0].prod(-1).tolist() if grids and grids[0].shape[0] == count else None
    pieces = {}
    for key, value in vision_inputs.items():
        if value.shape[0] == count:
            pieces[key] = value.split(1)
        elif patches is not None and value.shape[0] == sum(patches):
            pieces[key] = value.split(patches)
        else:
            return None
    return [{key: parts[i].clone() for key, parts in pieces.items()} for i in range(count)]


def load_vlm(path: str | os.PathLike[str], device: str | torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """Model and processor of a local VLM folder; never downloads."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING

    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelLoadError(f"model path {folder} does not exist")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model path {folder} has no config.json: it is not a Hugging Face model folder")
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"model path {folder}: unreadable config.json ({_first_line(err)})") from err
    if type(config) not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING:
        raise ModelLoadError(
            f"model path {folder} is not an image-text-to-text model (model_type {config.model_type!r})"
        )
    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"model path {folder} has no usable processor ({_first_line(err)})") from err
    if getattr(processor, "image_processor", None) is None or getattr(processor, "tokenizer", None) is None:
        raise ModelLoadError(f"model path {folder} has no image processor or no tokenizer")
    if not (processor.chat_template or processor.tokenizer.chat_template):
        raise ModelLoadError(f"model path {folder} has no chat template")
    try:
        with quiet_hf():
            model = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"model path {folder} has no loadable weights ({_first_line(err)})") from err
    return model.to(device).eval(), processor


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _default_device_and_dtype(
    device: str | torch.device | None, dtype: torch.dtype | str | None
) -> tuple[torch.device, torch.dtype]:
    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if dtype is None:
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if bf16 else torch.float32
    return device, dtype


class HFVLMPolicy(Policy):
    """A Hugging Face VLM that plays from the observation's image and prompt, sampling with its own RNG."""

    name = "hf_vlm"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        min_new_tokens: int | None = None,
        sampling: Sampling | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        seed: int | None = None,
        label: str = "",
    ) -> None:
        self.label = label
        self.sampling = sampling_with(
            sampling,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens,
        )
        self.device, self.dtype = _default_device_and_dtype(device, dtype)
        self.model, self.processor = load_vlm(model_path, self.device, self.dtype)
        self.tokenizer = self.processor.tokenizer
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.eos_token_ids, self.pad_token_id, self.suppressed_token_ids = special_token_ids(
            self.model.config,
            self.model.generation_config,
            self.processor,
            vocab_size,
            self.model.name_or_path,
        )
        self._rng_state: torch.Tensor | None = None
        self._cuda_rng_state: torch.Tensor | None = None
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed this policy's own sampling stream (the global torch RNG is left untouched)."""
        if seed is not None:
            self._rng_state = torch.Generator().manual_seed(int(seed)).get_state()
            if self.device.type == "cuda":
                cuda = torch.Generator(device=f"cuda:{self._cuda_index()}").manual_seed(int(seed))
                self._cuda_rng_state = cuda.get_state()

    def with_model(self, model: Any, sampling: Sampling) -> HFVLMPolicy:
        """The same player around another form of its model (e.g. the trainer's, with adapters) and sampling.

        The processor, device, label and sampling stream stay; this policy is left as it was.
        """
        twin = copy.copy(self)
        twin.model, twin.sampling = model, sampling
        return twin

    def act(self, observation: Mapping[str, Any]) -> str:
        """The model's reply to one observation."""
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Replies to many observations from one batched `generate`."""
        return [g.text for g in self.generate(observations)]

    def encode(self, observation: Mapping[str, Any]) -> PromptInputs:
        """Model inputs of one observation: its image and prompt through the chat template and processor."""
        return self._process([self._chat_input(observation)])[0]

    def encode_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[PromptInputs]:
        """Model inputs of many observations, equal to `encode` of each, from one processor call.

        One call pays the processor's per-call overhead once and lets the tokenizer and the image
        processor work on the whole batch. Processors whose image tensors cannot be cut back into
        one share per observation, and tokenizers without a padding token, are called once per
        observation instead.
        """
        chats = [self._chat_input(obs) for obs in observations]
        if len(chats) > 1 and self.tokenizer.pad_token is not None:
            prompts = self._process(chats)
            if prompts is not None:
                return prompts
        return [self._process([chat])[0] for chat in chats]

    def _chat_input(self, observation: Mapping[str, Any]) -> tuple[str, Image.Image]:
        """The chat-templated prompt text and the RGB image of one observation, checked."""
        if not isinstance(observation, Mapping) or not isinstance(observation.get("prompt"), str):
            raise TypeError(f"{self.name}: an observation must be a mapping with a str 'prompt'")
        image = observation.get("image")
        if image is None:
            raise TypeError(
                f"{self.name}: an observation must have an 'image' (uint8 HxWx3 array or PIL image)"
            )
        if not isinstance(image, Image.Image):
            image = Image.fromarray(np.asarray(image, dtype=np.uint8))
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": observation["prompt"]}]}
        ]
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, image.convert("RGB")

    def _process(self, chats: Sequence[tuple[str, Image.Image]]) -> list[PromptInputs] | None:
        """One processor call on (text, image) pairs, cut into unpadded per-observation inputs.

        None when the image tensors cannot be cut per observation (then call it one pair at a time).
        """
        texts = [text for text, _ in chats]
        images = [[image] for _, image in chats]  # one list per prompt: Gemma 3's processor takes only that
        encoded = self.processor(text=texts, images=images, padding=len(chats) > 1, return_tensors="pt")
        input_ids = encoded.pop("input_ids")
        attention_mask = encoded.pop("attention_mask", torch.ones_like(input_ids))
        token_inputs, vision_inputs = {}, {}
        for key, value in encoded.items():
            if not isinstance(value, torch.Tensor):
                continue
            if value.shape == input_ids.shape:
                token_inputs[key] = value
            else:
                vision_inputs[key] = value
        shares = split_vision_inputs(vision_inputs, len(chats))
        if shares is None:
            return None
        prompts = []
        for row, vision in enumerate(shares):
            real = attention_mask[row].bool()
            prompts.append(
                PromptInputs(
                    input_ids[row][real],
                    attention_mask[row][real],
                    {key: value[row][real] for key, value in token_inputs.items()},
                    vision,
                )
            )
        return prompts

    @torch.no_grad()
    def generate(self, observations: Sequence[Mapping[str, Any]], num_samples: int = 1) -> list[Generation]:
        """`num_samples` completions per observation from one batched `generate`, grouped by observation.

        The raw logits of every step are held until the call returns ([rows, vocab] float32 per step),
        so callers bound memory through the number of rows per call.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not observations:
            return []
        prompts = self.encode_batch(observations)
        rows = [p for p in prompts for _ in range(num_samples)]
        batch = {
            k: v.to(self.device, self.dtype if v.is_floating_point() else None)
            for k, v in stack_inputs(rows, self.pad_token_id, "left").items()
        }
        with self._own_rng():
            out = self.model.generate(**batch, generation_config=self._generation_config())
        prompt_width = batch["input_ids"].shape[1]
        sampled = out.sequences[:, prompt_width:].cpu()
        logprobs = self._sampled_logprobs(out.logits, sampled)
        generations = []
        for row, prompt in enumerate(rows):
            ids, finished = self._cut_at_eos(sampled[row])
            generations.append(
                Generation(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    completion_ids=ids,
                    logprobs=logprobs[row, : ids.shape[0]].clone(),
                    prompt=prompt,
                    observation_index=row // num_samples,
                    finished=finished,
                )
            )
        return generations

    def _generation_config(self) -> Any:
        """Our sampling settings only: a checkpoint's top_k or repetition penalty would bias the log-probs."""
        from transformers import GenerationConfig

        settings: dict[str, Any] = {
            "max_new_tokens": self.sampling.max_new_tokens,
            "min_new_tokens": self.sampling.min_new_tokens,
            "eos_token_id": self.eos_token_ids,
            "pad_token_id": self.pad_token_id,
            "suppress_tokens": self.suppressed_token_ids,
            "do_sample": self.sampling.temperature > 0,
            "return_dict_in_generate": True,
            "output_logits": True,
        }
        if self.sampling.temperature > 0:
            settings.update(temperature=self.sampling.temperature, top_p=self.sampling.top_p, top_k=0)
        else:
            # Neutral values, so that a checkpoint's sampling settings are not merged into a greedy search.
            settings.update(temperature=1.0, top_p=1.0)
        return GenerationConfig(**settings)

    def _sampled_logprobs(self, logits: Sequence[torch.Tensor], sampled: torch.Tensor) -> torch.Tensor:
        """log_softmax(raw logits / temperature) at the sampled ids, step by step to bound memory."""
        temperature = self.sampling.temperature if self.sampling.temperature > 0 else 1.0
        steps = []
        for t, step_logits in enumerate(logits):
            scaled = step_logits.float() / temperature
            index = sampled[:, t : t + 1].to(scaled.device)
            steps.append((scaled.gather(1, index) - torch.logsumexp(scaled, dim=-1, keepdim=True)).cpu())
        return torch.cat(steps, dim=1)

    def _cut_at_eos(self, ids: torch.Tensor) -> tuple[torch.Tensor, bool]:
        is_eos = torch.isin(ids, torch.tensor(self.eos_token_ids))
        if not bool(is_eos.any()):
            return ids.clone(), False
        end = int(is_eos.nonzero()[0, 0]) + 1
        return ids[:end].clone(), True

    @contextlib.contextmanager
    def _own_rng(self) -> Iterator[None]:
        """Sample from this policy's seeded stream; unseeded policies use the global RNG."""
        if self._rng_state is None:
            yield
            return
        cuda_devices = [self._cuda_index()] if self._cuda_rng_state is not None else []
        with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
            torch.set_rng_state(self._rng_state)
            for index in cuda_devices:
                torch.cuda.set_rng_state(self._cuda_rng_state, index)
            yield
            self._rng_state = torch.get_rng_state()
            for index in cuda_devices:
                self._cuda_rng_state = torch.cuda.get_rng_state(index)

    def _cuda_index(self) -> int:
        return self.device.index if self.device.index is not None else torch.cuda.current_device()


def special_token_ids(
    config: Any, generation_config: Any, processor: Any, vocab_size: int, name: str
) -> tuple[list[int], int, list[int]]:
    """A checkpoint's reply-ending ids, its padding id (the tokenizer's, else the first EOS) and the ids
    never sampled, as every VLM policy (HF and vLLM) needs them."""
    eos = eos_token_ids(generation_config, processor.tokenizer, name)
    pad = processor.tokenizer.pad_token_id
    suppressed = suppressed_token_ids(config, processor, eos, vocab_size)
    return eos, int(pad if pad is not None else eos[0]), suppressed


def eos_token_ids(generation_config: Any, tokenizer: Any, name: str) -> list[int]:
    """Every id that ends a reply: the checkpoint's generation config and the tokenizer's EOS."""
    configured = generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    ids = [int(i) for i in ids if i is not None]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    if not ids:
        raise ModelLoadError(f"model {name} defines no EOS token")
    return ids


def suppressed_token_ids(
    config: Any, processor: Any, eos_token_ids: Sequence[int], vocab_size: int
) -> list[int]:
    """Special (vision, control, padding) ids and unused vocab rows: never sampled, so replies re-score."""
    tokenizer = processor.tokenizer
    ids = {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    ids.update(tokenizer.all_special_ids)
    for source in (config, config.get_text_config(), processor):
        for name, value in vars(source).items():
            if name.endswith(("token_id", "token_index")) and isinstance(value, int):
                ids.add(value)
    ids.update(range(len(tokenizer), vocab_size))
    return sorted(i for i in ids if 0 <= i < vocab_size and i not in set(eos_token_ids))
