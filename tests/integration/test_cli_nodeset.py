"""The node-set parser of the command line (pure functions, no server)."""
import pytest

from pssh.cli.nodeset import NodeSetError, expand, expand_all, fold


def test_plain_names_and_separators():
    assert expand('a b,c\td') == ['a', 'b', 'c', 'd']
    assert expand('  a  ') == ['a']
    assert expand('') == []


def test_range_keeps_padding():
    assert expand('web[01-03].example.com') == [
        'web01.example.com', 'web02.example.com', 'web03.example.com']
    assert expand('n[8-11]') == ['n8', 'n9', 'n10', 'n11']
    assert expand('n[008-010]') == ['n008', 'n009', 'n010']


def test_lists_steps_and_single_numbers():
    assert expand('web[01-03,20]') == ['web01', 'web02', 'web03', 'web20']
    assert expand('n[1-9/4]') == ['n1', 'n5', 'n9']
    assert expand('n[7]') == ['n7']


def test_several_groups_are_a_product_left_slowest():
    assert expand('rack[1-2]-node[1-3]') == [
        'rack1-node1', 'rack1-node2', 'rack1-node3',
        'rack2-node1', 'rack2-node2', 'rack2-node3']


def test_commas_inside_brackets_do_not_split():
    assert expand('a[1,3],b') == ['a1', 'a3', 'b']


def test_duplicates_removed_first_kept():
    assert expand('b a b n[1-2] n[2-3]') == ['b', 'a', 'n1', 'n2', 'n3']
    assert expand_all(['x[1-3]', 'x2 y']) == ['x1', 'x2', 'x3', 'y']


def test_exclusion_uses_the_same_syntax():
    assert expand_all(['web[01-06]'], exclude=['web[02-03]', 'web05 nothere']) == [
        'web01', 'web04', 'web06']


def test_ipv6_literal_in_brackets_is_kept():
    assert expand('[::1]:2222 [fe80::1]') == ['[::1]:2222', '[fe80::1]']
    assert expand('user@h[1-2]:22') == ['user@h1:22', 'user@h2:22']


@pytest.mark.parametrize('text, position, words', [
    ('web[01-03', 3, 'never closed'),
    ('web01]', 5, "']' without '['"),
    ('a b[1-[2]]', 6, 'cannot nest'),
    ('web[x-y]', 4, "'x-y' is not a number or a range"),
    ('web[1-2,z]', 8, "'z' is not a number"),
    ('web[5-1]', 4, 'goes downwards'),
    ('web[]', 3, 'empty brackets'),
    ('n[1-3/0]', 2, 'step'),
    ('n[1-200000]', 2, 'more than'),
    ('n[01-100]', 2, 'narrower'),
])
def test_errors_name_the_position(text, position, words):
    with pytest.raises(NodeSetError) as info:
        expand(text)
    error = info.value
    assert error.args[1:] == (text, position)
    assert words in error.args[0]
    shown = str(error).splitlines()
    assert shown[0].endswith('at column %d:' % (position + 1))
    assert shown[1] == '  ' + text
    assert shown[2] == '  ' + ' ' * position + '^'


def test_product_too_large_is_refused():
    with pytest.raises(NodeSetError, match='more than'):
        expand('a[1-1000]b[1-1000]')


def test_fold_ranges_padding_and_order():
    assert fold(['web01', 'web02', 'web03', 'web07']) == 'web[01-03,07]'
    assert fold(['n10', 'n9', 'n11', 'db']) == 'db,n[9-11]'
    assert fold(['web01', 'web10', 'web09']) == 'web[01,09-10]'
    assert fold(['127.0.0.2', '127.0.0.3', '127.0.0.5']) == '127.0.0.[2-3,5]'
    assert fold(['a']) == 'a'
    assert fold([]) == ''


def test_fold_round_trips():
    names = expand('rack1-node[1-3] web[001-012,020] x y10')
    assert sorted(expand(fold(names))) == sorted(names)
