"""A local VLM served by vLLM as a spy-game player, and the fast sampler training can roll out with.

Install with the `vllm` extra. The prompt side is HFVLMPolicy's (same chat template, same processor), so
every sample carries the Hugging Face model inputs a trainer re-scores; vLLM only samples. Sampling
matches HFVLMPolicy's settings: temperature, top-p, max and min new tokens, the checkpoint's EOS ids, and
the same special and unused ids never sampled. The engine reports each sampled token's log-prob under the
distribution it sampled from (`logprobs_mode="processed_logprobs"`: temperature-scaled, special ids
removed; vLLM's default would be the raw, unscaled logits), and the trainer corrects the small remaining
mismatch with the truncated importance weight of docs/spec.md s6. `sync_weights` makes the engine serve a
trained model's current weights: a new LoRA adapter version, or full weights reloaded in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from agents.base import Policy
from agents.hf_vlm import (
    Generation,
    HFVLMPolicy,
    ModelLoadError,
    special_token_ids,
)
from agents.request_seeds import RequestSeeds
from agents.sampling import Sampling, sampling_with


def resolve_model_path(model_path: str | os.PathLike[str]) -> Path:
    """A local model folder, checked as load_vlm checks it."""
    folder = Path(model_path).expanduser().resolve()
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model path {folder} is not a Hugging Face model folder (no config.json)")
    return folder


class VLLMPolicy(Policy):
    """A VLM sampled by a vLLM engine in this process, with HFVLMPolicy's prompts and sampling settings.

    `gpu_memory_utilization` is the share of the GPU the engine may take (weights, KV cache), the rest
    staying with a colocated trainer; on a CPU, `VLLM_CPU_KVCACHE_SPACE` (GiB, default 1 here) sizes
    the KV cache instead. `enable_lora` lets `sync_weights` serve PEFT adapters up to `max_lora_rank`.
    """

    name = "vllm"

    # Prompts are built exactly as HFVLMPolicy builds them, so HF re-scores the same inputs.
    encode = HFVLMPolicy.encode
    encode_batch = HFVLMPolicy.encode_batch
    _chat_input = HFVLMPolicy._chat_input
    _process = HFVLMPolicy._process

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        min_new_tokens: int | None = None,
        sampling: Sampling | None = None,
        dtype: torch.dtype | str | None = None,
        seed: int | None = None,
        gpu_memory_utilization: float = 0.3,
        max_model_len: int = 4096,
        enable_lora: bool = False,
        max_lora_rank: int = 16,
        external_launcher: bool = False,
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
        self.model_path = resolve_model_path(model_path)
        self.processor, config, generation_config = _load_processor_and_configs(self.model_path)
        self.tokenizer = self.processor.tokenizer
        vocab_size = int(config.get_text_config().vocab_size)
        self.eos_token_ids, self.pad_token_id, self.suppressed_token_ids = special_token_ids(
            config, generation_config, self.processor, vocab_size, str(self.model_path)
        )
        suppressed = set(self.suppressed_token_ids)
        self.allowed_token_ids = [i for i in range(vocab_size) if i not in suppressed]
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.dtype = dtype or (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
        self.llm = _start_engine(
            self.model_path,
            self.dtype,
            seed,
            gpu_memory_utilization,
            max_model_len,
            enable_lora,
            max_lora_rank,
            external_launcher,
        )
        self.lora_request: Any = None
        self._adapter_dir: Path | None = None
        self._weights_version = 0
        self.seeds = RequestSeeds(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed this policy's sampling: each request then gets its own seed drawn from this stream."""
        self.seeds.reset(seed)

    def act(self, observation: Mapping[str, Any]) -> str:
        """The model's reply to one observation."""
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Replies to many observations from one engine call."""
        return [g.text for g in self.generate(observations)]

    def generate(self, observations: Sequence[Mapping[str, Any]], num_samples: int = 1) -> list[Generation]:
        """`num_samples` completions per observation from one engine call, grouped by observation.

        Each sample is one request with its own seed (a seeded policy replays exactly); requests of one
        observation share its prompt, which the engine's prefix cache computes once.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not observations:
            return []
        chats = [self._chat_input(obs) for obs in observations]
        prompts = self.encode_batch(observations)
        requests = [
            {"prompt": text, "multi_modal_data": {"image": image}}
            for text, image in chats
            for _ in range(num_samples)
        ]
        params = [self._sampling_params() for _ in requests]
        outputs = self.llm.generate(requests, params, lora_request=self.lora_request, use_tqdm=False)
        generations = []
        for row, output in enumerate(outputs):
            prompt = prompts[row // num_samples]
            if list(output.prompt_token_ids) != prompt.input_ids.tolist():
                raise RuntimeError(
                    f"{self.name}: the engine's prompt tokens differ from the processor's, so the trainer "
                    f"could not re-score them ({len(output.prompt_token_ids)} vs {len(prompt)} tokens)"
                )
            completion = output.outputs[0]
            ids = torch.tensor(completion.token_ids, dtype=torch.long)
            logprobs = torch.tensor(
                [step[token].logprob for step, token in zip(completion.logprobs, completion.token_ids)],
                dtype=torch.float32,
            )
            finished = bool(ids.numel()) and int(ids[-1]) in self.eos_token_ids
            generations.append(
                Generation(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    completion_ids=ids,
                    logprobs=logprobs,
                    prompt=prompt,
                    observation_index=row // num_samples,
                    finished=finished,
                    from_engine=True,
                )
            )
        return generations

    def _sampling_params(self) -> Any:
        """One request's settings: ours only (never the checkpoint's top-k or penalties), its own seed."""
        from vllm import SamplingParams

        return SamplingParams(
            n=1,
            temperature=self.sampling.temperature,
            top_p=self.sampling.top_p if self.sampling.temperature > 0 else 1.0,
            top_k=0,
            max_tokens=self.sampling.max_new_tokens,
            min_tokens=self.sampling.min_new_tokens,
            stop_token_ids=list(self.eos_token_ids),
            allowed_token_ids=self.allowed_token_ids,
            logprobs=0,
            seed=self.seeds.next(),
            skip_special_tokens=True,
        )

    def sync_weights(self, model: Any) -> None:
        """Serve `model`'s current weights: a PEFT model as a new adapter version, others reloaded in place.

        Prefix, encoder and multimodal caches are reset, so no prompt or image is served from the old
        weights (the engine's scheduler also forgets which images it encoded: without that, an image seen
        before the sync fails with "Encoder cache miss").
        """
        if hasattr(model, "peft_config"):
            self._serve_adapter(model)
            self._reset_caches()
        else:
            self.load_weights((name, tensor.detach()) for name, tensor in model.state_dict().items())

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load full weights by name into the engine in place, consuming `weights` one tensor at a time.

        The engine's `load_weights` (through `reload_weights`, which restores and re-finishes any weight it
        had repacked for its kernels) reads the iterator lazily, so a trainer may gather each tensor only
        when it is read. Caches are then reset, as in `sync_weights`.
        """
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        self._reset_caches()

    def _reset_caches(self) -> None:
        """Forget every prompt, image encoding and multimodal input computed with the previous weights."""
        self.llm.reset_prefix_cache()
        self.llm.llm_engine.reset_encoder_cache()
        self.llm.reset_mm_cache()

    def _serve_adapter(self, model: Any) -> None:
        """Save the adapter to a fresh folder and route every later request through it (new id)."""
        from vllm.lora.request import LoRARequest

        self._weights_version += 1
        folder = Path(tempfile.mkdtemp(prefix=f"vz-spy-lora-v{self._weights_version}-"))
        model.save_pretrained(folder, save_embedding_layers=False)  # adapters only: the engine has the base
        self.lora_request = LoRARequest(
            f"policy-v{self._weights_version}", self._weights_version, str(folder)
        )
        if self._adapter_dir is not None:
            shutil.rmtree(self._adapter_dir, ignore_errors=True)
        self._adapter_dir = folder

    def close(self) -> None:
        """Stop the engine and delete the served adapter's folder (once; later calls do nothing).

        vLLM's parallel state is global to the process, and this tears it down: close an engine only when
        no other engine of this process will sample again.
        """
        if self._adapter_dir is not None:
            shutil.rmtree(self._adapter_dir, ignore_errors=True)
            self._adapter_dir = None
        if self.llm is not None:
            self.llm.llm_engine.engine_core.shutdown()
            self.llm = None


def _load_processor_and_configs(folder: Path) -> tuple[Any, Any, Any]:
    """The folder's processor, model config and generation config (the model's weights stay on disk)."""
    from transformers import AutoConfig, AutoProcessor, GenerationConfig

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"model path {folder}: no usable config or processor ({err})") from err
    try:
        generation_config = GenerationConfig.from_pretrained(folder, local_files_only=True)
    except OSError:
        generation_config = GenerationConfig.from_model_config(config)
    return processor, config, generation_config


def _start_engine(
    folder: Path,
    dtype: torch.dtype,
    seed: int | None,
    gpu_memory_utilization: float,
    max_model_len: int,
    enable_lora: bool,
    max_lora_rank: int,
    external_launcher: bool,
) -> Any:
    """A vLLM engine in this process (colocated with a trainer), returning processed log-probs.

    `external_launcher`: the process is one of several started by a launcher (accelerate, torchrun) whose
    process group vLLM joins rather than creating its own.
    """
    # In-process engine core: weights can be handed over without pickling, and it starts in seconds.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    on_gpu = torch.cuda.is_available()
    if not on_gpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    try:
        from vllm import LLM
    except ImportError as err:
        raise ModelLoadError(
            f"vLLM is not installed ({err}); install the extra: pip install 'vz-spy[vllm]'"
        ) from None

    lora = {"enable_lora": True, "max_lora_rank": max_lora_rank, "max_loras": 1} if enable_lora else {}
    # vLLM 0.32 on a CPU cannot rewind a seeded request's generator when a chunked prefill discards a
    # sampled token ("CPU Generator does not use offset"): schedule whole prompts there.
    whole_prompts = (
        {}
        if on_gpu
        else {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 8192)}
    )
    launcher = {"distributed_executor_backend": "external_launcher"} if external_launcher else {}
    return LLM(
        model=str(folder),
        dtype=str(dtype).removeprefix("torch."),
        seed=0 if seed is None else int(seed),
        logprobs_mode="processed_logprobs",
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
        limit_mm_per_prompt={"image": 1, "video": 0},
        enforce_eager=not on_gpu,
        **lora,
        **whole_prompts,
        **launcher,
    )
