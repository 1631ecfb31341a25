"""Token budgeting, the compaction split and loop detection, as units."""

from __future__ import annotations

import pytest

from ocodex.agent.context import ContextExhausted, TokenBudget, compacted, raw_tokens, split_for_compaction
from ocodex.agent.guard import LoopGuard, Stuck
from ocodex.ollama.window import variant_name


def _msg(role: str, size: int, **extra: object) -> dict:
    return {"role": role, "content": "x" * size, **extra}


def test_estimate_learns_the_servers_ratio() -> None:
    budget = TokenBudget(window=8192)
    messages = [_msg("user", 4000)]
    first = budget.estimate(messages)
    assert first == raw_tokens(messages)
    assert budget.observe(int(first * 1.25)) is None
    assert budget.estimate(messages) == int(first * 1.25)


def test_far_fewer_reported_tokens_flag_truncation_once() -> None:
    budget = TokenBudget(window=4096)
    budget.estimate([_msg("user", 20000)])
    warning = budget.observe(2000)
    assert warning is not None and "4096 tokens" in warning and "OLLAMA_CONTEXT_LENGTH" in warning
    budget.estimate([_msg("user", 20000)])
    assert budget.observe(2000) is None  # said once
    assert budget.ratio == 1.0  # a truncated answer teaches nothing about the tokenizer


def test_compaction_limits() -> None:
    assert TokenBudget(window=10000).limit == 8000
    assert TokenBudget(window=10000, compact_limit=3000).limit == 3000
    assert TokenBudget(window=10000, compact_limit=99999).limit == 8500  # never past the usable window
    assert TokenBudget(compact_limit=3000).limit == 3000
    assert TokenBudget().limit is None and not TokenBudget().needs_compaction(10**9)


def test_no_recompaction_until_the_conversation_grows_again() -> None:
    budget = TokenBudget(window=10000)
    assert budget.needs_compaction(8500)
    budget.after_compaction(8200)  # compaction did not get below the limit
    assert not budget.needs_compaction(8500)  # so it is not retried at once (Codex loops here)
    assert budget.needs_compaction(8200 + 2500 + 1)


def test_exhausted_context_is_an_error_with_a_way_out() -> None:
    budget = TokenBudget(window=4096)
    budget.check_fits(3000, compacted=False)
    with pytest.raises(ContextExhausted) as info:
        budget.check_fits(5000, compacted=True)
    assert info.value.kind == "context" and "even after compaction" in info.value.message
    assert "model_context_window" in (info.value.hint or "")


def test_split_keeps_call_and_result_together() -> None:
    history = [_msg("assistant", 10, tool_calls=[{"id": "a"}]), _msg("tool", 400, tool_call_id="a"),
               _msg("assistant", 10, tool_calls=[{"id": "b"}]), _msg("tool", 400, tool_call_id="b"),
               _msg("assistant", 10, tool_calls=[{"id": "c"}]), _msg("tool", 400, tool_call_id="c")]
    split = split_for_compaction(history, keep_tokens=300)
    assert split is not None
    assert split.recent == history[2:]  # two call/result pairs fit, starting at an assistant message
    assert split.old == history[:2]
    assert split_for_compaction(history[4:], keep_tokens=10) is None  # nothing older to summarise


def test_compacted_history_shape() -> None:
    opening = [_msg("system", 5)]
    prompts = [{"role": "user", "content": "task"}]
    recent = [_msg("assistant", 5)]
    out = compacted(opening, prompts, " the summary ", recent)
    assert out[:2] == opening + prompts and out[-1] == recent[0]
    assert out[2]["role"] == "user" and out[2]["content"].endswith("the summary")


def test_guard_repeats_reset_after_an_edit() -> None:
    guard = LoopGuard(max_repeats=3)
    for _ in range(2):
        guard.record_call("shell", '{"command": "pytest"}', success=True, changed_files=False)
    guard.record_call("apply_patch", '{"input": "..."}', success=True, changed_files=True)
    guard.record_call("shell", '{"command":"pytest"}', success=True, changed_files=False)  # same call, new state
    guard.record_call("shell", '{"command": "pytest"}', success=True, changed_files=False)
    with pytest.raises(Stuck, match="3 times"):
        guard.record_call("shell", '{ "command" : "pytest" }', success=True, changed_files=False)


def test_guard_a_repeat_with_a_new_result_is_not_a_loop() -> None:
    guard = LoopGuard(max_repeats=3)
    call = '{"command": ["bash", "-lc", "pytest -q"]}'
    for failures in (3, 2, 1, 0):  # the model fixes tests with `sed -i` between runs
        guard.record_call("shell", call, success=failures == 0, changed_files=False,
                          output=f"Exit code: {int(bool(failures))}\nWall time: 0.{failures} seconds\n"
                                 f"{failures} failed")
        guard.record_call("shell", f'{{"command": "sed -i s/a/b/ f{failures}.py"}}', success=True,
                          changed_files=False)
    # the last run's result twice more, whatever the timing, is a loop
    guard.record_call("shell", call, success=True, changed_files=False,
                      output="Exit code: 0\nWall time: 0.4 seconds\n0 failed")
    with pytest.raises(Stuck, match="3 times"):
        guard.record_call("shell", call, success=True, changed_files=False,
                          output="Exit code: 0\nWall time: 0.2 seconds\n0 failed")


def test_guard_idle_requests() -> None:
    guard = LoopGuard(max_repeats=100, max_idle=3, max_tool_errors=100)
    for i in range(2):
        guard.start_request()
        guard.record_call("shell", f'{{"n": {i}}}', success=False, changed_files=False)
        guard.end_request()
    guard.start_request()
    guard.record_call("shell", '{"n": 9}', success=False, changed_files=False)
    with pytest.raises(Stuck, match="3 model requests in a row made no progress"):
        guard.end_request()


def test_variant_names() -> None:
    assert variant_name("gpt-oss:20b", 32768) == "gpt-oss:20b-ctx32k"
    assert variant_name("llama3", 5000) == "llama3:latest-ctx5000"


def test_a_cached_prefix_left_out_of_prompt_tokens_is_not_truncation() -> None:
    budget = TokenBudget(window=32768)
    messages = [_msg("user", 8000)]
    budget.observe(budget.estimate(messages))  # the first request: the full count
    messages.append(_msg("assistant", 400))
    budget.estimate(messages)
    assert budget.observe(150) is None  # only the new tokens were evaluated
    assert budget.ratio == 1.0  # and it teaches nothing about the tokenizer


def test_ratio_is_bounded() -> None:
    budget = TokenBudget()
    budget.estimate([_msg("user", 4000)])
    budget.observe(budget.last_raw * 10)
    assert budget.ratio == 2.0
    budget.estimate([_msg("user", 4000)])
    budget.observe(int(budget.last_raw * 1.3))
    assert budget.ratio == pytest.approx(1.3, abs=0.01)
    low = TokenBudget()
    low.estimate([_msg("user", 4000)])
    low.observe(int(low.last_raw * 0.7))
    assert low.ratio == 0.8


def test_an_attached_image_counts_as_a_fixed_number_of_tokens_not_its_base64_size() -> None:
    from ocodex.agent.context import IMAGE_TOKENS

    text = [{"role": "user", "content": "look"}]
    small = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                          {"type": "text", "text": "look"}]}]
    huge = [{"role": "user", "content": [{"type": "image_url",
                                          "image_url": {"url": "data:image/png;base64," + "A" * 800_000}},
                                         {"type": "text", "text": "look"}]}]
    assert raw_tokens(huge) == raw_tokens(small)
    assert IMAGE_TOKENS <= raw_tokens(small) - raw_tokens(text) <= IMAGE_TOKENS + 30
