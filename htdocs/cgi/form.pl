#!/usr/bin/perl
# A classic CGI form handler: GET shows the form, POST greets the sender.
use strict;
use warnings;

sub decode { my $s = shift // ''; $s =~ tr/+/ /; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; return $s; }
sub escape { my $s = shift; $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/"/&quot;/g; return $s; }

my %form;
my $data = '';
if (($ENV{REQUEST_METHOD} // '') eq 'POST') {
	read(STDIN, $data, $ENV{CONTENT_LENGTH} // 0);
} else {
	$data = $ENV{QUERY_STRING} // '';
}
for my $pair (split /[&;]/, $data) {
	my ($k, $v) = split /=/, $pair, 2;
	$form{decode($k)} = decode($v);
}

print "Content-Type: text/html; charset=utf-8\r\n\r\n";
print <<'HTML';
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>CGI form</title><link rel="stylesheet" href="/style.css"></head><body><main>
<h1>A CGI form handler (Perl)</h1>
HTML
if (defined $form{name} && $form{name} ne '') {
	printf "<p>Hello, <strong>%s</strong>! Your message was: <em>%s</em></p>\n", escape($form{name}), escape($form{message} // '');
	print STDERR "form.pl: greeted a visitor\n";
}
print <<'HTML';
<form method="post" action="/cgi/form.pl">
<p><label>Name <input name="name" required></label></p>
<p><label>Message <input name="message"></label></p>
<p><button>Send</button></p>
</form>
<p><a href="/">Back home</a></p>
</main></body></html>
HTML
