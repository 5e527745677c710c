"""The range syntax: values print as a person writes them, and bad lines name file:line."""

import pytest

from ksweep.config.rangefile import RangeFileError, parse_range_text


def values(line: str) -> tuple[str, ...]:
    return parse_range_text(line, "r")[0].values


def test_range_is_end_inclusive_and_exact():
    assert values("CONFIG_WEIGHT_DECAY=0.03:0.02:0.09") == ("0.03", "0.05", "0.07", "0.09")


def test_small_range_keeps_distinct_values_never_zero():
    assert values("CONFIG_LEARNING_RATE=1e-5:1e-5:5e-5") == ("1e-05", "2e-05", "3e-05", "4e-05", "5e-05")


def test_decimal_range_has_no_float_noise():
    assert values("CONFIG_X=0.5:0.1:0.9") == ("0.5", "0.6", "0.7", "0.8", "0.9")


def test_integer_range_stays_integer():
    assert values("CONFIG_BATCH_SIZE=32:32:128") == ("32", "64", "96", "128")


def test_negative_range_works():
    assert values("CONFIG_X=-1:0.5:0") == ("-1", "-0.5", "0")
    assert values("CONFIG_X=-3:1:-1") == ("-3", "-2", "-1")


def test_whole_numbers_in_a_decimal_range_print_whole():
    assert values("CONFIG_X=0:0.3:1") == ("0", "0.3", "0.6", "0.9")
    assert values("CONFIG_X=1:0.5:2") == ("1", "1.5", "2")


def test_log_range_multiplies():
    assert values("CONFIG_LEARNING_RATE=1e-5:*10:1e-2") == ("1e-05", "0.0001", "0.001", "0.01")


def test_quoted_choices_keep_their_words_and_pipes_inside_quotes():
    axis = parse_range_text('CONFIG_PRUNING_METHOD="state"|"magnitude"', "r")[0]
    assert axis.values == ("state", "magnitude") and axis.quoted
    assert values('CONFIG_DEVICE="a|b"') == ("a|b",)


def test_comment_after_value_is_ignored():
    assert values("CONFIG_PRUNING_WARMUP=7800|11700  # Epoch 20 or 30") == ("7800", "11700")


def test_kernel_not_set_line_means_n():
    assert values("# CONFIG_SGD_NESTEROV is not set") == ("n",)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("CONFIG_X=0.1:0:1", "step must be positive"),
        ("CONFIG_X=1:-1:0", "step must be positive"),
        ("CONFIG_X=0.1:0.1", "a range needs start:step:end"),
        ("CONFIG_X = 0.1", "(no spaces around =)"),
        ("CONFIG_X=0.9:0.1:0.1", "lies after its end"),
        ("CONFIG_X=a:1:3", "range parts must be numbers"),
        ("CONFIG_BATCH_SIZE=32||64", "empty choice"),
        ("CONFIG_X=", "empty value"),
        ("LEARNING_RATE=1", "expected CONFIG_NAME=value"),
        ('CONFIG_X="a|b', "unbalanced quotes"),
        ("CONFIG_BATCH_SIZE=32|32|64", "32 is given twice: give each value once"),
        ("CONFIG_LEARNING_RATE=1e-3|0.001", "1e-3 and 0.001 are one value"),
        ('CONFIG_PRUNING_METHOD="state"|"state"', "state is given twice"),
        ("config_num_epochs=3", "(did you mean CONFIG_NUM_EPOCHS? symbols are upper case)"),
        ("\ufeffCONFIG_SEED=1", "UTF-8 byte-order mark: remove it"),
    ],
)
def test_bad_line_names_file_line_and_reason(line, reason):
    with pytest.raises(RangeFileError) as err:
        parse_range_text("# header\n" + line, "defconfigs/foo-range")
    assert str(err.value).startswith("defconfigs/foo-range:2: ")
    assert reason in str(err.value)


def test_symbol_given_twice_names_both_lines():
    with pytest.raises(RangeFileError, match=r"r:3: CONFIG_SEED: given twice \(first at line 1\)"):
        parse_range_text("CONFIG_SEED=1\n\nCONFIG_SEED=2", "r")
