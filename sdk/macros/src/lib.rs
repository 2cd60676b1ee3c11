//! `#[grpc_wasi::main]`: an `async fn main` for guests, run on grpc-wasi's reactor. Use it
//! through the `grpc-wasi` crate, which re-exports it.

use proc_macro::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, parse_macro_input};

/// Runs `async fn main` inside `grpc_wasi::block_on`, as `#[tokio::main]` runs it in tokio's
/// runtime: `main` may return anything `fn main` may (`()`, `Result<(), E>` with `E: Debug`,
/// `Result<(), Box<dyn Error>>`, an `ExitCode`).
///
/// Takes no arguments but tokio's `flavor = "current_thread"` (a guest has one thread, so
/// that is what it runs anyway); anything else, a `main` that is not `async`, or one with
/// parameters, is a compile error saying so.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let input = parse_macro_input!(item as ItemFn);
    if let Some(error) = check(&attr, &input) {
        return error.into();
    }
    let attrs = &input.attrs;
    let vis = &input.vis;
    let output = &input.sig.output;
    let block = &input.block;
    quote! {
        #(#attrs)*
        #vis fn main() #output {
            async fn __grpc_wasi_main() #output #block
            ::grpc_wasi::block_on(__grpc_wasi_main())
        }
    }
    .into()
}

/// The compile error for a use the attribute does not support, if any.
fn check(attr: &proc_macro2::TokenStream, input: &ItemFn) -> Option<proc_macro2::TokenStream> {
    let normalized: String = attr.to_string().split_whitespace().collect();
    if !attr.is_empty() && normalized != "flavor=\"current_thread\"" {
        return Some(quote_spanned! { attr.span()=>
            compile_error!("#[grpc_wasi::main] takes no arguments but flavor = \"current_thread\": a guest has one thread");
        });
    }
    if input.sig.asyncness.is_none() {
        return Some(quote_spanned! { input.sig.fn_token.span()=>
            compile_error!("#[grpc_wasi::main] is for `async fn main`");
        });
    }
    if input.sig.ident != "main" {
        return Some(quote_spanned! { input.sig.ident.span()=>
            compile_error!("#[grpc_wasi::main] is for `async fn main` only");
        });
    }
    if !input.sig.inputs.is_empty() {
        return Some(quote_spanned! { input.sig.inputs.span()=>
            compile_error!("main takes no parameters");
        });
    }
    None
}
