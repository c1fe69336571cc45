#!/usr/bin/env python3
"""Writes generated messages and Python's view of them for parser_differential_compare.

Each message is built by hand (so odd but legal structures are under our control), then parsed
by Python's email package with policy.default, whose view -- subject, first From mailbox, and
the text of the text/plain body that get_body(('plain',)) picks -- is the oracle. Output:
OUT/NNNN.eml and OUT/index.json, a list of {file, category, subject, from_email, from_name,
body} (body null when Python finds no text/plain body).

Deterministic for a given --seed. Standard library only.
"""
import argparse
import base64
import email
import email.header
import email.policy
import json
import os
import quopri
import random

TEXTS = {
    'en': ['My printer is on fire.', 'Please reset my password, thanks!',
           'The invoice total is wrong: 42 USD instead of 24.', 'Order #1234 never arrived.'],
    'fr': ['Le café est froid et l\'écran affiche « erreur ».', 'Où est ma commande ? Merci.',
           'Problème d\'accès à l\'espace client.'],
    'de': ['Grüße aus Köln – die Lieferung fehlt.', 'Größe: 42, Farbe: grün, Preis: 19 €.'],
    'ru': ['Не работает вход в систему.', 'Здравствуйте! Заказ не пришёл.'],
    'ja': ['お問い合わせありがとうございます。', '注文番号は12345です。'],
    'zh': ['您好，打印机坏了。', '请帮我重置密码。'],
    'ko': ['주문이 도착하지 않았습니다.', '비밀번호를 재설정해 주세요.'],
    'el': ['Καλημέρα, ο εκτυπωτής δεν λειτουργεί.'],
    'emoji': ['Ça marche pas 🚀 help ✓', 'Thanks 🙏 — fixed 👍'],
}
CHARSETS = {
    'en': ['us-ascii', 'utf-8', 'iso-8859-1'],
    'fr': ['utf-8', 'iso-8859-1', 'iso-8859-15', 'windows-1252'],
    'de': ['utf-8', 'iso-8859-15', 'windows-1252'],
    'ru': ['utf-8', 'koi8-r', 'windows-1251', 'iso-8859-5'],
    'ja': ['utf-8', 'iso-2022-jp', 'shift_jis', 'euc-jp'],
    'zh': ['utf-8', 'gb2312', 'gbk', 'gb18030', 'big5'],
    'ko': ['utf-8', 'euc-kr'],
    'el': ['utf-8', 'iso-8859-7'],
    'emoji': ['utf-8'],
}
NAMES = ['Ann Example', 'Renée Dupré', 'Jörg Müller', 'Иван Петров', '山田太郎', 'O\'Brien, Pat',
         'Zoë', '李雷', 'Support Fan 🚀']


def pick_text(rng, lang):
    return ' '.join(rng.choice(TEXTS[lang]) for _ in range(rng.randint(1, 3)))


def encode_body(rng, text, charset, allow_8bit=True):
    """Returns (cte, encoded bytes) for text in charset."""
    data = text.encode(charset)
    choices = ['base64', 'quoted-printable']
    if all(b < 128 for b in data):
        choices.append('7bit')
    elif allow_8bit:
        choices.append('8bit')
    cte = rng.choice(choices)
    if cte == 'base64':
        body = base64.encodebytes(data)
    elif cte == 'quoted-printable':
        body = quopri.encodestring(data)
    else:
        body = data + b'\n'
    return cte, body


def encoded_words(rng, text, charset):
    """RFC 2047 encoding of text in charset, as Python's Header writes it (may fold)."""
    maxlinelen = rng.choice([40, 76, 998])
    try:
        # Python labels GB2312 and Big5 words with codec names (eucgb2312_cn, big5_tw), no IANA
        # charset; write the registered name, as real mailers do.
        return email.header.Header(text, charset, maxlinelen=maxlinelen).encode().replace(
            'eucgb2312_cn', 'gb2312').replace('big5_tw', 'big5')
    except UnicodeError:  # Python converts some charsets to another for output (euc-jp)
        return email.header.Header(text, 'utf-8', maxlinelen=maxlinelen).encode()


def header_text(rng, text, lang):
    """A header value for text: plain ASCII, encoded words, or raw UTF-8 (RFC 6532)."""
    if all(ord(c) < 128 for c in text):
        return text.encode(), 'ascii'
    mode = rng.choice(['ew-utf8', 'ew-charset', 'ew-q'])
    if mode == 'ew-utf8':
        return encoded_words(rng, text, 'utf-8').encode(), mode
    if mode == 'ew-q':
        raw = text.encode('utf-8')
        q = ''.join(chr(b) if (48 <= b < 58 or 65 <= b < 91 or 97 <= b < 123) else
                    ('_' if b == 32 else '=%02X' % b) for b in raw)
        return ('=?utf-8?q?%s?=' % q).encode(), mode
    charset = rng.choice([c for c in CHARSETS[lang] if c != 'us-ascii'])
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = 'utf-8'
    return encoded_words(rng, text, charset).encode(), mode


def text_part(rng, lang, subtype='plain', headers_extra=b''):
    text = pick_text(rng, lang)
    charset = rng.choice(CHARSETS[lang])
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = 'utf-8'
    if subtype == 'html':
        from html import escape
        text = '<html><body><p>%s</p></body></html>' % escape(text)
    cte, body = encode_body(rng, text, charset)
    quoted = rng.choice(['"%s"', '%s'])
    ct = ('Content-Type: text/%s; charset=' % subtype + quoted % charset).encode()
    if rng.random() < 0.2:
        ct = ct.replace(b'; charset', b';\n\tcharset')  # folded parameter
    if rng.random() < 0.1:
        ct += b' (a comment)'
    head = ct + b'\nContent-Transfer-Encoding: ' + cte.encode() + b'\n' + headers_extra
    return head + b'\n' + body


def attachment_part(rng):
    data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    name = rng.choice(['report.pdf', 'résumé 2026.pdf', 'photo.png', 'data.bin', 'файл.txt'])
    ctype = rng.choice(['application/pdf', 'image/png', 'application/octet-stream'])
    if all(ord(c) < 128 for c in name):
        disp = b'attachment; filename="' + name.encode() + b'"'
    else:
        disp = b"attachment; filename*=utf-8''" + ''.join(
            '%%%02X' % b for b in name.encode()).encode()
    return (b'Content-Type: ' + ctype.encode() + b'\nContent-Disposition: ' + disp +
            b'\nContent-Transfer-Encoding: base64\n\n' + base64.encodebytes(data))


BOUNDARY_COUNTER = [0]


def multipart(rng, subtype, parts):
    # RFC 2046 5.1.1: a nested multipart must not reuse an enclosing boundary; the counter makes
    # each one unique while the shapes cover the legal alphabet (bchars, with space and quotes).
    BOUNDARY_COUNTER[0] += 1
    boundary = rng.choice(['b%d' % rng.randrange(10**6), '==_Part_%d' % rng.randrange(10**6),
                           'simple boundary', "'()+_,-./:=?"]) + '.%d' % BOUNDARY_COUNTER[0]
    quote = '"' if (' ' in boundary or "'" in boundary or '=' in boundary or
                    rng.random() < 0.5) else ''
    head = ('Content-Type: multipart/%s; boundary=%s%s%s\n' % (subtype, quote, boundary, quote)).encode()
    body = b''
    if rng.random() < 0.3:
        body += b'This is a multi-part message in MIME format.\n'
    for p in parts:
        body += b'--' + boundary.encode() + (b'  ' if rng.random() < 0.1 else b'') + b'\n' + p
        if not p.endswith(b'\n'):
            body += b'\n'
    body += b'--' + boundary.encode() + b'--\n'
    if rng.random() < 0.3:
        body += b'epilogue text\n'
    return head, body


def build(rng, index):
    lang = rng.choice(list(TEXTS))
    category = 'normal'
    structure = rng.choice(['plain', 'plain', 'alternative', 'mixed', 'mixed-alternative',
                            'related', 'nested', 'html-only', 'forwarded', 'split-ew',
                            'ascii-8bit', 'raw-utf8-header'])
    subject_text = pick_text(rng, rng.choice([lang, 'en']))[:120]
    name = rng.choice(NAMES)
    addr = rng.choice(['ann@customer.test', 'Renee.Dupre@client.test', 'x+tag@sub.example.test'])
    subject, _ = header_text(rng, subject_text, lang if lang in CHARSETS else 'en')
    if any(ord(c) > 127 for c in name):
        enc, _ = header_text(rng, name, lang)
        from_value = enc + b' <' + addr.encode() + b'>'
    elif ',' in name or "'" in name:
        from_value = b'"' + name.encode() + b'" <' + addr.encode() + b'>'
    else:
        from_value = name.encode() + b' <' + addr.encode() + b'>'
    top = []
    if structure == 'plain':
        head, body = text_part(rng, lang).split(b'\n\n', 1)
        top = [head]
        body = body
    elif structure == 'html-only':
        head, body = text_part(rng, lang, 'html').split(b'\n\n', 1)
        top = [head]
    elif structure == 'alternative':
        head, body = multipart(rng, 'alternative', [text_part(rng, lang), text_part(rng, lang, 'html')])
        top = [head.rstrip(b'\n')]
    elif structure == 'mixed':
        head, body = multipart(rng, 'mixed', [text_part(rng, lang)] +
                               [attachment_part(rng) for _ in range(rng.randint(1, 3))])
        top = [head.rstrip(b'\n')]
    elif structure == 'mixed-alternative':
        ih, ib = multipart(rng, 'alternative', [text_part(rng, lang), text_part(rng, lang, 'html')])
        head, body = multipart(rng, 'mixed', [ih + b'\n' + ib, attachment_part(rng)])
        top = [head.rstrip(b'\n')]
    elif structure == 'related':
        rh, rb = multipart(rng, 'related', [text_part(rng, lang, 'html'),
                                            b'Content-Type: image/png\nContent-ID: <img@x>\n'
                                            b'Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n'])
        head, body = multipart(rng, 'alternative', [text_part(rng, lang), rh + b'\n' + rb])
        top = [head.rstrip(b'\n')]
    elif structure == 'nested':
        inner = text_part(rng, lang)
        for _ in range(rng.randint(2, 6)):
            h, b = multipart(rng, 'mixed', [inner])
            inner = h + b'\n' + b
        head, body = inner.split(b'\n\n', 1)
        top = [head]
    elif structure == 'forwarded':
        inner = (b'From: orig@cust.test\nSubject: inner\n' + text_part(rng, lang))
        head, body = multipart(rng, 'mixed', [text_part(rng, lang),
                                              b'Content-Type: message/rfc822\n\n' + inner])
        top = [head.rstrip(b'\n')]
    elif structure == 'split-ew':
        # An encoded word split inside a multibyte character: RFC 2047 6.2 forbids it, senders
        # do it; we join the bytes, Python decodes each word alone.
        category = 'split-multibyte-encoded-word'
        raw = subject_text.encode('utf-8')
        cut = next((i for i in range(1, len(raw)) if 0x80 <= raw[i] < 0xC0), len(raw) // 2)
        subject = (b'=?utf-8?b?' + base64.b64encode(raw[:cut]) + b'?=\n =?utf-8?b?' +
                   base64.b64encode(raw[cut:]) + b'?=')
        head, body = text_part(rng, lang).split(b'\n\n', 1)
        top = [head]
    elif structure == 'ascii-8bit':
        # 8-bit bytes under a us-ascii label: WHATWG reads windows-1252, Python U+FFFD.
        category = 'us-ascii-label-with-8bit'
        text = pick_text(rng, 'fr')
        top = [b'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 8bit']
        body = text.encode('latin-1') + b'\n'
    elif structure == 'raw-utf8-header':
        category = 'raw-utf8-header'
        subject = subject_text.encode('utf-8')
        from_value = name.encode('utf-8') + b' <' + addr.encode() + b'>'
        if ',' in name:
            from_value = b'"' + name.encode('utf-8') + b'" <' + addr.encode() + b'>'
        head, body = text_part(rng, lang).split(b'\n\n', 1)
        top = [head]
    headers = [b'From: ' + from_value, b'To: support@acme.test', b'Subject: ' + subject,
               b'MIME-Version: 1.0', b'Message-ID: <gen-%d@differential.test>' % index]
    rng.shuffle(headers)
    if rng.random() < 0.2:
        headers = [h[:1].lower() + h[1:].lower() if h.startswith(b'MIME') else h for h in headers]
    message = b'\n'.join(headers + top) + b'\n\n' + body
    if rng.random() < 0.7:
        message = message.replace(b'\n', b'\r\n')
    return message, category


def honest(text):
    """Python keeps undecodable header bytes as lone surrogates (surrogateescape); record them as
    U+FFFD, which is what Python's view of the text is, rather than decoding them on its behalf."""
    if text is None:
        return None
    return text.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')


def python_view(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    view = {'subject': str(msg['subject'] or ''), 'from_email': '', 'from_name': '', 'body': None}
    try:
        addresses = msg['from'].addresses if msg['from'] is not None else ()
        if addresses:
            view['from_email'] = addresses[0].addr_spec
            view['from_name'] = addresses[0].display_name
    except Exception:  # noqa: BLE001 - Python's own parse error: no oracle for this field
        view['from_email'] = view['from_name'] = None
    body = msg.get_body(preferencelist=('plain',))
    if body is not None:
        try:
            view['body'] = body.get_content()
        except (LookupError, UnicodeError):
            view['body'] = None
    return {k: honest(v) for k, v in view.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--count', type=int, default=600)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    index = []
    for i in range(args.count):
        raw, category = build(rng, i)
        name = '%04d.eml' % i
        with open(os.path.join(args.out, name), 'wb') as f:
            f.write(raw)
        entry = {'file': name, 'category': category}
        entry.update(python_view(raw))
        index.append(entry)
    with open(os.path.join(args.out, 'index.json'), 'w', encoding='utf-8') as f:
        json.dump(index, f, ensure_ascii=False, indent=0)
    print('wrote %d messages to %s' % (len(index), args.out))


if __name__ == '__main__':
    main()
