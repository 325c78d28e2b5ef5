import { describe, expect, it } from 'vitest';
import { parseXml } from './xml-tree.ts';

describe('parseXml', () => {
  it('builds the element tree with decoded text, entities, attributes and CDATA', () => {
    const parsed = parseXml(
      '<?xml version="1.0"?>\n<messageML a="1 &lt; 2" b=\'q\'>' +
        'x &amp; &#36;y<br/><!-- note --><![CDATA[<raw>]]></messageML>\n',
    );
    expect(parsed).toEqual({
      ok: true,
      root: {
        kind: 'element',
        name: 'messageML',
        attributes: [['a', '1 < 2'], ['b', 'q']],
        children: [
          { kind: 'text', text: 'x & $y' },
          { kind: 'element', name: 'br', attributes: [], children: [] },
          { kind: 'text', text: '<raw>' },
        ],
      },
    });
  });

  const malformed: [string, RegExp][] = [
    ['<a><b></a>', /<\/a> does not close <b>/],
    ['<a>x</b></a>', /<\/b> does not close <a>/],
    ['<a></a></a>', /closes no element/],
    ['<a>', /<a> is not closed/],
    ['<a/><b/>', /more than one root/],
    ['text', /text outside the root/],
    ['<a/>tail', /text outside the root/],
    ['', /no root element/],
    ['<a>1 < 2</a>', /raw & or </],
    ['<a>fish & chips</a>', /raw & or </],
    ['<a>&nbsp;</a>', /unknown entity/],
    ['<a b></a>', /needs a quoted value/],
    ['<a b=c></a>', /needs a quoted value/],
    ['<a b="1" b="2"/>', /duplicate attribute/],
    ['<a b="&bogus;"/>', /attribute value/],
    ['<!DOCTYPE a><a/>', /DOCTYPE/],
    ['<a><?php x ?></a>', /processing instructions/],
  ];
  it.each(malformed)('refuses %j', (xml, reason) => {
    const parsed = parseXml(xml);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });
});
